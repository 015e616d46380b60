package encode

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// Codec names a video codec.
type Codec string

// The video codecs the agent can encode.
const (
	H264 Codec = "h264"
	VP8  Codec = "vp8"
)

// ParseCodec parses a --codec flag value.
func ParseCodec(s string) (Codec, error) {
	switch Codec(s) {
	case H264, VP8:
		return Codec(s), nil
	}
	return "", fmt.Errorf("%w: %q (want h264 or vp8)", ErrUnknownCodec, s)
}

// MimeType returns the WebRTC MIME type of the codec ("video/H264", "video/VP8").
func (c Codec) MimeType() string {
	if c == VP8 {
		return "video/VP8"
	}
	return "video/H264"
}

// Sample is one encoded video frame or audio packet. Data is valid only during the Output call that receives it.
type Sample struct {
	Data []byte
	// PTS is the presentation time stamp the encoder gave the frame; only differences between frames of one
	// encoder mean something (x264enc shifts them by a constant). RTP timestamps derive from it.
	PTS time.Duration
	// Keyframe is true for a frame that can be decoded on its own (always true for audio).
	Keyframe bool
	// EncodeTime is how long the frame spent in the pipeline, push to pull (video only).
	EncodeTime time.Duration
}

// VideoConfig configures a [Video] encoder.
type VideoConfig struct {
	Codec Codec
	// FPS is the frame-rate cap announced in the caps (default 30).
	FPS int
	// BitRate is the initial target (cap) in bits per second (default 2 Mbit/s).
	BitRate int
	// Output receives every encoded frame, from one goroutine, in order. It must not block for long: the encoder
	// does not wait for it. Required.
	Output func(Sample)
	// Hardware allows a hardware H.264 encoder when GStreamer has one (default false: x264enc).
	Hardware bool
	// Scale divides the picture's width and height before encoding (videoscale inside the pipeline); 0 or 1
	// encodes the full size. The output size is rounded down to even numbers, at least 2x2.
	Scale int
	// Logger receives pipeline errors (default slog.Default()).
	Logger *slog.Logger
}

// VideoStats are a [Video] encoder's counters and figures.
type VideoStats struct {
	FramesIn   uint64 // frames pushed into the pipeline
	FramesOut  uint64 // encoded frames handed to Output
	KeyFrames  uint64 // of which keyframes
	Bytes      uint64 // encoded bytes handed to Output
	PushErrors uint64
	BitRate    int    // current target, bits per second
	Encoder    string // GStreamer element name of the encoder
	Width      int    // input size
	Height     int
	OutWidth   int // encoded size (Width/Scale, Height/Scale)
	OutHeight  int
}

// Video encodes framebuffer frames. Build with [NewVideo]; it implements [capture.Sink].
type Video struct {
	cfg      VideoConfig
	log      *slog.Logger
	pipeline *gst.Pipeline
	src      *gst.Element
	enc      *gst.Element
	sink     *gst.Element
	size     *gst.Element // capsfilter after videoscale, nil without Scale
	encName  string
	start    time.Time

	mu      sync.Mutex // serializes WriteFrame, SetBitRate and Close
	closed  bool
	width   int
	height  int
	outW    int
	outH    int
	lastPTS time.Duration
	timing  timingProbe
	// pic is the I420 picture pushed into appsrc, converted from the framebuffer (nil with Scale: BGRX goes to
	// videoscale). When picSynced it reflects the framebuffer frame picSeq, so the next frame's changed rows are
	// all that needs converting.
	pic       *i420
	picSeq    uint64
	picSynced bool

	bitrate                                           atomic.Int64
	framesIn, framesOut, keyFrames, bytes, pushErrors atomic.Uint64
	timings                                           Timings

	wake *pullWakeups
}

// HardwareH264 returns the name of a hardware H.264 encoder element GStreamer has, or "".
func HardwareH264() string {
	Init()
	for _, name := range []string{"vah264lpenc", "vah264enc", "vaapih264enc", "nvh264enc", "v4l2h264enc"} {
		if f := gst.Find(name); f != nil {
			return name
		}
	}
	return ""
}

func (c *VideoConfig) defaults() error {
	if c.Codec == "" {
		c.Codec = H264
	}
	if _, err := ParseCodec(string(c.Codec)); err != nil {
		return err
	}
	if c.FPS <= 0 {
		c.FPS = 30
	}
	if c.BitRate <= 0 {
		c.BitRate = 2_000_000
	}
	if c.Scale < 0 || c.Scale > 64 {
		return fmt.Errorf("%w: scale 1/%d", ErrPipeline, c.Scale)
	}
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Output == nil {
		return fmt.Errorf("%w: VideoConfig.Output is required", ErrPipeline)
	}
	return nil
}

// encoderFragment returns the pipeline text between videoconvert and appsink, and the encoder's name.
func (c *VideoConfig) encoderFragment() (string, string) {
	kbps := c.BitRate / 1000
	if c.Codec == VP8 {
		// cq with a cap: quality is held at cq-level unless the cap binds; static-threshold skips unchanged
		// blocks cheaply. keyframe-max-dist is long: keyframes come on demand.
		return fmt.Sprintf("vp8enc name=enc deadline=1 cpu-used=16 lag-in-frames=0 error-resilient=default "+
			"end-usage=cq cq-level=8 min-quantizer=4 max-quantizer=56 target-bitrate=%d undershoot=95 "+
			"buffer-size=300 buffer-initial-size=200 buffer-optimal-size=250 keyframe-mode=auto "+
			"keyframe-max-dist=100000 static-threshold=100 ! video/x-vp8", c.BitRate), "vp8enc"
	}
	if c.Hardware {
		if hw := HardwareH264(); hw != "" {
			return fmt.Sprintf("%s name=enc ! h264parse config-interval=-1 ! "+
				"video/x-h264,stream-format=byte-stream,alignment=au,profile=constrained-baseline", hw), hw
		}
	}
	// pass=qual is CRF with `quantizer` as the rate factor and `bitrate` as the VBV maximum.
	return fmt.Sprintf("x264enc name=enc tune=zerolatency speed-preset=ultrafast pass=qual quantizer=21 "+
		"bitrate=%d vbv-buf-capacity=300 key-int-max=100000 bframes=0 b-adapt=false sliced-threads=true "+
		"threads=2 ! video/x-h264,stream-format=byte-stream,alignment=au,profile=constrained-baseline",
		kbps), "x264enc"
}

// NewVideo builds and starts a video encoder. Close it when done.
func NewVideo(cfg VideoConfig) (*Video, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	Init()
	frag, name := cfg.encoderFragment()
	scale := ""
	if cfg.Scale > 1 {
		// Scaling the BGRx input first leaves videoconvert the small picture.
		scale = "videoscale name=scale ! capsfilter name=size ! "
	}
	desc := "appsrc name=src is-live=true format=time do-timestamp=false block=false max-buffers=1 " +
		"leaky-type=downstream ! " + scale + "videoconvert name=conv ! " + frag +
		" ! appsink name=sink sync=false async=false max-buffers=1 drop=false emit-signals=false"
	pipeline, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPipeline, desc, err)
	}
	v := &Video{cfg: cfg, log: cfg.Logger.With("encoder", name), pipeline: pipeline, encName: name}
	if v.src, err = pipeline.GetElementByName("src"); err != nil {
		return nil, fmt.Errorf("%w: appsrc: %w", ErrPipeline, err)
	}
	if v.sink, err = pipeline.GetElementByName("sink"); err != nil {
		return nil, fmt.Errorf("%w: appsink: %w", ErrPipeline, err)
	}
	if v.enc, err = pipeline.GetElementByName("enc"); err != nil {
		return nil, fmt.Errorf("%w: encoder: %w", ErrPipeline, err)
	}
	conv, err := pipeline.GetElementByName("conv")
	if err != nil {
		return nil, fmt.Errorf("%w: videoconvert: %w", ErrPipeline, err)
	}
	entry := conv
	if cfg.Scale > 1 {
		if v.size, err = pipeline.GetElementByName("size"); err != nil {
			return nil, fmt.Errorf("%w: capsfilter: %w", ErrPipeline, err)
		}
		if entry, err = pipeline.GetElementByName("scale"); err != nil {
			return nil, fmt.Errorf("%w: videoscale: %w", ErrPipeline, err)
		}
	}
	v.timing = attachTiming(entry, v.enc)
	v.bitrate.Store(int64(cfg.BitRate))
	if err := pipeline.SetState(gst.StatePlaying); err != nil {
		return nil, fmt.Errorf("%w: start: %w", ErrPipeline, err)
	}
	v.start = time.Now()
	if v.wake, err = watch(pipeline, v.sink, v.log); err != nil {
		_ = pipeline.SetState(gst.StateNull)
		return nil, err
	}
	go v.wake.pullEach(v.sink, v.output)
	return v, nil
}

// Name returns the encoder element's name ("x264enc", "vp8enc", or a hardware encoder).
func (v *Video) Name() string { return v.encName }

// Codec returns the configured codec.
func (v *Video) Codec() Codec { return v.cfg.Codec }

// WriteFrame converts the frame into the encoder's I420 picture and pushes a copy of it. It implements
// [capture.Sink]; it returns once the pixels are copied, without waiting for the encoder. Only the rows that changed
// since the previous frame are converted when this encoder saw that frame. A frame of a new size renegotiates the
// caps (and yields a keyframe).
func (v *Video) WriteFrame(f *capture.Frame) error {
	return v.push(f.Pix, f.Width, f.Height, f.Stride, time.Now(), f)
}

// Push converts one whole BGRX picture (stride bytes per row) and pushes it into the pipeline, stamped with the
// capture time at. An odd width or height is cropped by one pixel (the encoders need even sizes).
func (v *Video) Push(pix []byte, width, height, stride int, at time.Time) error {
	return v.push(pix, width, height, stride, at, nil)
}

// push converts pix into the I420 picture (only f's changed rows when the picture reflects f's predecessor; all of
// it when f is nil) and pushes a copy.
func (v *Video) push(pix []byte, width, height, stride int, at time.Time, f *capture.Frame) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	// 4:2:0 needs even sizes: an odd last column or row is left out.
	width, height = width&^1, height&^1
	if width <= 0 || height <= 0 || width > capture.MaxWidth || height > capture.MaxHeight {
		return fmt.Errorf("%w: %dx%d", ErrFrameSize, width, height)
	}
	if width != v.width || height != v.height {
		if err := v.resize(width, height); err != nil {
			return err
		}
	}
	pts := at.Sub(v.start)
	if pts <= v.lastPTS {
		pts = v.lastPTS + time.Millisecond
	}
	v.lastPTS = pts
	dur := time.Second / time.Duration(v.cfg.FPS)
	var err error
	if v.pic == nil {
		// Scaled: the BGRX picture goes to videoscale as it is (scaling before the colour conversion keeps the
		// small picture's pixels what they were).
		err = push(v.src, pix, stride, width*capture.BytesPerPixel, height, pts, dur)
	} else {
		var rows *capture.RowSet
		if f != nil && v.picSynced && f.PrevSeq == v.picSeq && f.Rows != nil {
			rows = f.Rows
		}
		if err = v.pic.convert(pix, stride, rows); err == nil {
			v.picSynced = f != nil // a Push's picture is no framebuffer frame
			if f != nil {
				v.picSeq = f.Seq
			}
			err = v.pic.push(v.src, pts, dur)
		}
	}
	if err != nil {
		v.pushErrors.Add(1)
		return err
	}
	v.framesIn.Add(1)
	return nil
}

// resize prepares a picture of the new (even) size and sets the caps for it; called with mu held.
func (v *Video) resize(width, height int) error {
	if v.size == nil {
		pic, err := newI420(width, height, v.cfg.FPS)
		if err != nil {
			return err
		}
		v.pic.free()
		v.pic, v.picSynced = pic, false
	}
	v.outW, v.outH = width, height
	if v.size != nil {
		v.outW, v.outH = max(width/v.cfg.Scale&^1, 2), max(height/v.cfg.Scale&^1, 2)
		caps := gst.NewCapsFromString(fmt.Sprintf("video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1",
			v.outW, v.outH))
		if err := v.size.SetProperty("caps", caps); err != nil {
			return fmt.Errorf("%w: scaled caps %dx%d: %w", ErrPipeline, v.outW, v.outH, err)
		}
	}
	if v.pic != nil {
		setI420Caps(v.src, width, height, v.cfg.FPS)
	} else {
		setVideoCaps(v.src, width, height, v.cfg.FPS)
	}
	if v.width != 0 {
		v.log.Info("video mode change", "from", fmt.Sprintf("%dx%d", v.width, v.height),
			"to", fmt.Sprintf("%dx%d", width, height))
	}
	v.width, v.height = width, height
	return nil
}

// ForceKeyFrame asks the encoder to make the next frame a keyframe (GStreamer force-key-unit, all headers). The
// caller must see to it that a next frame comes (the pacer's Kick).
func (v *Video) ForceKeyFrame() error {
	if !forceKeyUnit(v.sink) {
		return fmt.Errorf("%w: force-key-unit event not handled", ErrPipeline)
	}
	return nil
}

// SetBitRate changes the target (cap) bitrate while playing.
func (v *Video) SetBitRate(bps int) error {
	if bps <= 0 {
		return fmt.Errorf("%w: bitrate %d", ErrPipeline, bps)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return ErrClosed
	}
	if int64(bps) == v.bitrate.Load() {
		return nil
	}
	var err error
	switch v.encName {
	case "x264enc":
		err = v.enc.SetProperty("bitrate", uint(bps/1000))
	case "vp8enc":
		err = v.enc.SetProperty("target-bitrate", bps)
	default:
		err = v.enc.SetProperty("bitrate", uint(bps/1000))
	}
	if err != nil {
		return fmt.Errorf("%w: set bitrate %d: %w", ErrPipeline, bps, err)
	}
	v.bitrate.Store(int64(bps))
	return nil
}

// BitRate returns the current target in bits per second.
func (v *Video) BitRate() int { return int(v.bitrate.Load()) }

// Stats returns the counters.
func (v *Video) Stats() VideoStats {
	v.mu.Lock()
	w, h, ow, oh := v.width, v.height, v.outW, v.outH
	v.mu.Unlock()
	return VideoStats{
		FramesIn:   v.framesIn.Load(),
		FramesOut:  v.framesOut.Load(),
		KeyFrames:  v.keyFrames.Load(),
		Bytes:      v.bytes.Load(),
		PushErrors: v.pushErrors.Load(),
		BitRate:    v.BitRate(),
		Encoder:    v.encName,
		Width:      w,
		Height:     h,
		OutWidth:   ow,
		OutHeight:  oh,
	}
}

// Timings returns the encode-time recorder (mean and p95 per interval).
func (v *Video) Timings() *Timings { return &v.timings }

// output hands one encoded frame to Output.
func (v *Video) output(s *pulled) {
	took, _ := v.timing.lookup(s.pts())
	data := s.data()
	key := s.keyframe()
	v.framesOut.Add(1)
	v.bytes.Add(uint64(len(data)))
	if key {
		v.keyFrames.Add(1)
	}
	if took > 0 {
		v.timings.Add(took)
	}
	v.cfg.Output(Sample{Data: data, PTS: s.pts(), Keyframe: key, EncodeTime: took})
}

// Close stops the pipeline and waits for the pull goroutine.
func (v *Video) Close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	v.mu.Unlock()
	err := v.pipeline.SetState(gst.StateNull)
	v.wake.close()
	v.mu.Lock()
	v.pic.free() // pushes are over (closed), and the stopped pipeline holds no buffer
	v.pic = nil
	v.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: stop: %w", ErrPipeline, err)
	}
	return nil
}

var initOnce sync.Once

// Init initializes GStreamer once; every constructor calls it.
func Init() { initOnce.Do(func() { gst.Init(nil) }) }

// Version returns the GStreamer library version ("1.22.0").
func Version() string {
	Init()
	return gstVersion()
}
