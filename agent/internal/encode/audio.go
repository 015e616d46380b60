package encode

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// AudioConfig configures an [Audio] encoder.
type AudioConfig struct {
	// Server is the PulseAudio server address ("unix:/run/x/native"); empty uses the default server.
	Server string
	// Device is the source to record, normally a null sink's monitor ("loco.monitor"); empty uses the default.
	Device string
	// FrameSize is the Opus frame duration in milliseconds, 10 or 20 (default 10).
	FrameSize int
	// BitRate of the Opus stream in bits per second (default 64000).
	BitRate int
	// Output receives every Opus packet, from one goroutine, in order. Required.
	Output func(Sample)
	// Logger receives pipeline errors (default slog.Default()).
	Logger *slog.Logger
}

// Audio records PulseAudio and encodes Opus. Build with [NewAudio].
type Audio struct {
	cfg      AudioConfig
	pipeline *gst.Pipeline
	sink     *gst.Element
	level    *levelMeter
	packets  atomic.Uint64
	bytes    atomic.Uint64
	lastDB   atomic.Uint64 // math.Float64bits of the latest level
	levelMu  sync.Mutex
	wake     *pullWakeups
	closed   sync.Once
	pullDone chan struct{}
}

// quoteProp quotes a property value for gst_parse_launch.
func quoteProp(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// NewAudio builds and starts the audio pipeline. Starting fails when the PulseAudio server cannot be reached.
func NewAudio(cfg AudioConfig) (*Audio, error) {
	if cfg.Output == nil {
		return nil, fmt.Errorf("%w: AudioConfig.Output is required", ErrPipeline)
	}
	switch cfg.FrameSize {
	case 0:
		cfg.FrameSize = 10
	case 10, 20:
	default:
		return nil, fmt.Errorf("%w: Opus frame size %d ms (want 10 or 20)", ErrPipeline, cfg.FrameSize)
	}
	if cfg.BitRate <= 0 {
		cfg.BitRate = 64000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	Init()
	src := "pulsesrc name=src do-timestamp=true buffer-time=200000 latency-time=10000 provide-clock=false"
	if cfg.Server != "" {
		src += " server=" + quoteProp(cfg.Server)
	}
	if cfg.Device != "" {
		src += " device=" + quoteProp(cfg.Device)
	}
	desc := src + " ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=48000,channels=2 ! " +
		fmt.Sprintf("opusenc name=enc frame-size=%d inband-fec=true packet-loss-percentage=5 bitrate=%d "+
			"audio-type=generic bitrate-type=vbr ! ", cfg.FrameSize, cfg.BitRate) +
		"appsink name=sink sync=false async=false max-buffers=8 drop=true emit-signals=false"
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPipeline, desc, err)
	}
	a := &Audio{cfg: cfg, pipeline: p, pullDone: make(chan struct{})}
	a.lastDB.Store(math.Float64bits(-100))
	if a.sink, err = p.GetElementByName("sink"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPipeline, err)
	}
	enc, err := p.GetElementByName("enc")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPipeline, err)
	}
	a.level = attachLevel(enc)
	if err := p.SetState(gst.StatePlaying); err != nil {
		_ = p.SetState(gst.StateNull)
		a.level.free()
		return nil, fmt.Errorf("%w: start audio (PulseAudio %q, source %q): %w", ErrPipeline, cfg.Server,
			cfg.Device, err)
	}
	// pulsesrc fails asynchronously when the server is unreachable: wait for the state change to settle.
	if ret, _ := p.GetState(gst.StatePlaying, gst.ClockTime(5*time.Second)); ret == gst.StateChangeFailure {
		msg := popError(p)
		_ = p.SetState(gst.StateNull)
		a.level.free()
		return nil, fmt.Errorf("%w: start audio (PulseAudio %q, source %q): %s", ErrPipeline, cfg.Server,
			cfg.Device, msg)
	}
	if a.wake, err = watch(p, a.sink, cfg.Logger.With("pipeline", "audio")); err != nil {
		_ = p.SetState(gst.StateNull)
		a.level.free()
		return nil, err
	}
	go a.pullLoop()
	return a, nil
}

func popError(p *gst.Pipeline) string {
	msg := p.GetPipelineBus().TimedPopFiltered(gst.ClockTime(100*time.Millisecond), gst.MessageError)
	if msg == nil {
		return "state change failed"
	}
	return msg.ParseError().Error()
}

func (a *Audio) pullLoop() {
	defer close(a.pullDone)
	a.wake.pullEach(a.sink, func(s *pulled) {
		data := s.data()
		a.packets.Add(1)
		a.bytes.Add(uint64(len(data)))
		a.cfg.Output(Sample{Data: data, PTS: s.pts(), Keyframe: true})
	})
}

// FrameDuration returns the Opus frame duration.
func (a *Audio) FrameDuration() time.Duration {
	return time.Duration(a.cfg.FrameSize) * time.Millisecond
}

// Level returns the RMS level in dBFS of the samples encoded since the previous call (a full-scale sine is -3 dBFS;
// silence and no samples give -100).
func (a *Audio) Level() float64 {
	a.levelMu.Lock()
	defer a.levelMu.Unlock()
	if a.level == nil {
		return -100
	}
	db, ok := a.level.take()
	if !ok {
		db = -100
	}
	a.lastDB.Store(math.Float64bits(db))
	return db
}

// Packets returns the number of Opus packets and bytes produced.
func (a *Audio) Packets() (packets, bytes uint64) { return a.packets.Load(), a.bytes.Load() }

// Close stops the pipeline.
func (a *Audio) Close() error {
	var err error
	a.closed.Do(func() {
		err = a.pipeline.SetState(gst.StateNull)
		a.wake.close()
		<-a.pullDone
		a.levelMu.Lock()
		a.level.free()
		a.level = nil
		a.levelMu.Unlock()
	})
	if err != nil {
		return fmt.Errorf("%w: stop audio: %w", ErrPipeline, err)
	}
	return nil
}
