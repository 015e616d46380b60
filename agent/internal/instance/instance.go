// Package instance assembles one emulator instance's media path: the RFB client writing the framebuffer, the
// pacer feeding the video encoder, the Opus encoder, the WebRTC manager fanning both out to viewers, and the input
// handler between the viewers' DataChannels and VNC.
//
//	VNC --rfb--> Framebuffer --Pacer--> encode.Video --> webrtc.Manager.Video --> viewers
//	                                 \-> half-size encode.Video --> webrtc.Manager.Small --> small viewers
//	                                     (while a viewer asks for maxWidth <= width/2)
//	PulseAudio monitor --> encode.Audio --> webrtc.Manager.Audio --> viewers
//	viewers --"input" DataChannel--> input.Handler --> rfb --> VNC
//
// Build with [New], run with [Instance.Run]. main wires it to the broker (agent/internal/attach) and to the
// health endpoints (agent/internal/health).
package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/input"
	"github.com/loco-cluster/loco/agent/internal/rfb"
	"github.com/loco-cluster/loco/agent/internal/webrtc"
)

// ErrNoFrame is returned by Screenshot before the first frame.
var ErrNoFrame = errors.New("instance: no framebuffer yet")

// Config configures an [Instance].
type Config struct {
	// VNC is the VNC server address ("unix:/path" or "host:port"). Required.
	VNC string
	// Codec is the video codec (default H.264).
	Codec encode.Codec
	// FPS caps the frame rate (default 30).
	FPS int
	// AudioServer and AudioDevice select the PulseAudio source; AudioOff disables audio.
	AudioServer, AudioDevice string
	AudioOff                 bool
	// WebRTC configures the viewers' side; VideoMime and Audio are filled in from Codec and AudioOff.
	WebRTC webrtc.Config
	// FrozenAfter is how long an unchanged picture may last before it counts as frozen (default 60 s).
	FrozenAfter time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Events receives what the broker must hear about. Every field is optional.
type Events struct {
	SessionEnded   func(id, reason string)
	ControlChanged func(controller *webrtc.Viewer)
}

// Instance is one instance's media path.
type Instance struct {
	cfg Config
	log *slog.Logger

	FB      *capture.Framebuffer
	RFB     *rfb.Client
	Pacer   *capture.Pacer
	Monitor *capture.Monitor
	Video   *encode.Video
	Input   *input.Handler
	WebRTC  *webrtc.Manager

	audio  atomic.Pointer[encode.Audio]
	events atomic.Pointer[Events]
	// small is the half-size encoder while some session uses it; smallMu serializes starting and stopping it.
	small   atomic.Pointer[encode.Video]
	smallMu sync.Mutex
	wg      sync.WaitGroup
}

// New builds the instance; nothing runs until [Instance.Run].
func New(cfg Config) (*Instance, error) {
	if cfg.VNC == "" {
		return nil, fmt.Errorf("instance: a VNC address is required")
	}
	if cfg.Codec == "" {
		cfg.Codec = encode.H264
	}
	if cfg.FPS <= 0 {
		cfg.FPS = 30
	}
	if cfg.FrozenAfter <= 0 {
		cfg.FrozenAfter = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	in := &Instance{cfg: cfg, log: cfg.Logger, FB: &capture.Framebuffer{}}
	in.events.Store(&Events{})
	in.RFB = rfb.New(rfb.Config{Addr: cfg.VNC, Framebuffer: in.FB, Logger: cfg.Logger})
	in.Input = input.NewHandler(in.RFB, in.FB, input.Config{})
	in.Monitor = capture.NewMonitor(in.FB, capture.MonitorConfig{FrozenAfter: cfg.FrozenAfter})

	wcfg := cfg.WebRTC
	wcfg.VideoMime = cfg.Codec.MimeType()
	wcfg.Audio = !cfg.AudioOff
	if wcfg.Logger == nil {
		wcfg.Logger = cfg.Logger
	}
	var err error
	in.WebRTC, err = webrtc.New(wcfg, webrtc.Deps{
		KeyFrame:   in.keyFrame,
		SetBitrate: in.setBitrate,
		Input:      in.Input,
		Screen:     in.screen,
		SessionEnded: func(id, reason string) {
			if f := in.events.Load().SessionEnded; f != nil {
				f(id, reason)
			}
		},
		ControlChanged: func(v *webrtc.Viewer) {
			if f := in.events.Load().ControlChanged; f != nil {
				f(v)
			}
		},
		SmallLayer:    in.smallLayer,
		SmallKeyFrame: in.smallKeyFrame,
		SmallBitrate:  in.setSmallBitrate,
	})
	if err != nil {
		return nil, err
	}
	in.Video, err = encode.NewVideo(encode.VideoConfig{
		Codec:    cfg.Codec,
		FPS:      cfg.FPS,
		BitRate:  min(wcfg.MaxBitrate, 2_000_000),
		Hardware: true, // a hardware H.264 encoder when GStreamer has one; x264enc otherwise
		Output:   func(s encode.Sample) { in.WebRTC.WriteVideo(s.Data, s.PTS, s.Keyframe) },
		Logger:   cfg.Logger,
	})
	if err != nil {
		in.WebRTC.Close()
		return nil, err
	}
	in.Pacer = capture.NewPacer(in.FB, capture.SinkFunc(in.writeFrame), capture.PacerConfig{FPS: cfg.FPS})
	cfg.Logger.Info("video encoder", "codec", cfg.Codec, "element", in.Video.Name())
	return in, nil
}

// SetEvents sets the broker-facing callbacks.
func (in *Instance) SetEvents(ev Events) { in.events.Store(&ev) }

func (in *Instance) keyFrame() {
	if err := in.Video.ForceKeyFrame(); err != nil {
		in.log.Warn("forcing a keyframe", "err", err)
	}
	in.Pacer.Kick()
}

// writeFrame feeds one pacer frame to the full-size encoder (unless every viewer is on the half-size layer) and,
// while it runs, to the half-size one. Each converts the rows that changed into its own I420 picture (all of it after
// a frame it skipped).
func (in *Instance) writeFrame(f *capture.Frame) error {
	var err error
	if in.WebRTC.FullSizeWanted() {
		err = in.Video.WriteFrame(f)
	}
	if s := in.small.Load(); s != nil {
		if serr := s.WriteFrame(f); serr != nil && !errors.Is(serr, encode.ErrClosed) {
			err = errors.Join(err, fmt.Errorf("half-size layer: %w", serr))
		}
	}
	return err
}

// smallLayer starts or stops the half-size encoder (webrtc.Deps.SmallLayer).
func (in *Instance) smallLayer(on bool) {
	in.smallMu.Lock()
	defer in.smallMu.Unlock()
	if !on {
		if v := in.small.Swap(nil); v != nil {
			if err := v.Close(); err != nil {
				in.log.Warn("stopping the half-size encoder", "err", err)
			}
		}
		return
	}
	if in.small.Load() != nil {
		return
	}
	v, err := encode.NewVideo(encode.VideoConfig{
		Codec:   in.cfg.Codec,
		FPS:     in.cfg.FPS,
		BitRate: 1_000_000, // the manager sets the layer's estimate right after

		Hardware: true,
		Scale:    2,
		Output:   func(s encode.Sample) { in.WebRTC.WriteSmallVideo(s.Data, s.PTS, s.Keyframe) },
		Logger:   in.log.With("layer", "half"),
	})
	if err != nil {
		in.log.Error("starting the half-size encoder", "err", err)
		return
	}
	in.small.Store(v)
	in.Pacer.Kick() // its first frame (a keyframe) now, not at the next change
}

func (in *Instance) smallKeyFrame() {
	v := in.small.Load()
	if v == nil {
		return
	}
	if err := v.ForceKeyFrame(); err != nil {
		in.log.Warn("forcing a keyframe (half size)", "err", err)
	}
	in.Pacer.Kick()
}

func (in *Instance) setSmallBitrate(bps int) {
	if v := in.small.Load(); v != nil {
		if err := v.SetBitRate(bps); err != nil && !errors.Is(err, encode.ErrClosed) {
			in.log.Warn("setting the half-size bitrate", "bps", bps, "err", err)
		}
	}
}

// SmallVideo returns the half-size encoder while it runs, nil otherwise.
func (in *Instance) SmallVideo() *encode.Video { return in.small.Load() }

func (in *Instance) setBitrate(bps int) {
	if err := in.Video.SetBitRate(bps); err != nil {
		in.log.Warn("setting the video bitrate", "bps", bps, "err", err)
	}
}

func (in *Instance) screen() webrtc.Screen {
	w, h := in.FB.Size()
	return webrtc.Screen{Width: w, Height: h, Relative: in.RFB.Relative()}
}

// Audio returns the running audio encoder, nil while there is none.
func (in *Instance) Audio() *encode.Audio { return in.audio.Load() }

// Run runs the RFB client, the pacer, the WebRTC manager and the audio pipeline until ctx is done, then closes
// everything.
func (in *Instance) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := func(name string, f func(context.Context) error) {
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				in.log.Error(name+" stopped", "err", err)
			}
		}()
	}
	run("rfb", in.RFB.Run)
	run("pacer", in.Pacer.Run)
	run("webrtc", in.WebRTC.Run)
	if !in.cfg.AudioOff {
		run("audio", in.runAudio)
	}
	<-ctx.Done()
	in.wg.Wait()
	_ = in.Video.Close()
	in.smallLayer(false)
	if a := in.audio.Swap(nil); a != nil {
		_ = a.Close()
	}
	return ctx.Err()
}

// runAudio starts the audio pipeline, retrying while PulseAudio is not up yet.
func (in *Instance) runAudio(ctx context.Context) error {
	delay := 500 * time.Millisecond
	for {
		a, err := encode.NewAudio(encode.AudioConfig{
			Server: in.cfg.AudioServer, Device: in.cfg.AudioDevice, Logger: in.log,
			Output: func(s encode.Sample) { in.WebRTC.WriteAudio(s.Data, s.PTS) },
		})
		if err == nil {
			in.audio.Store(a)
			in.log.Info("audio started", "server", in.cfg.AudioServer, "device", in.cfg.AudioDevice)
			return nil
		}
		in.log.Warn("audio not available yet", "err", err, "retry", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// Screenshot returns the framebuffer as PNG and when its content last changed.
func (in *Instance) Screenshot() ([]byte, time.Time, error) {
	var img *image.RGBA
	var changed time.Time
	var f capture.Frame
	in.FB.Peek(&f, func(f *capture.Frame) {
		if f.Width == 0 || f.Height == 0 {
			return
		}
		changed = f.Changed
		img = image.NewRGBA(image.Rect(0, 0, f.Width, f.Height))
		for y := 0; y < f.Height; y++ {
			src := f.Pix[y*f.Stride : y*f.Stride+f.Width*4]
			dst := img.Pix[y*img.Stride : y*img.Stride+f.Width*4]
			for x := 0; x < len(src); x += 4 {
				dst[x], dst[x+1], dst[x+2], dst[x+3] = src[x+2], src[x+1], src[x], 255
			}
		}
	})
	if img == nil {
		return nil, time.Time{}, ErrNoFrame
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, time.Time{}, fmt.Errorf("encoding PNG: %w", err)
	}
	return buf.Bytes(), changed, nil
}
