package capture

import (
	"context"
	"sync/atomic"
	"time"
)

// Sink receives frames from a [Pacer]. The frame (and its Pix) is valid only during the call, which runs under the
// framebuffer's read lock: copy the pixels once (into an encoder buffer) and return quickly. An error is counted
// and the pacer goes on.
type Sink interface {
	WriteFrame(f *Frame) error
}

// SinkFunc adapts a function to a [Sink].
type SinkFunc func(f *Frame) error

// WriteFrame calls fn(f).
func (fn SinkFunc) WriteFrame(f *Frame) error { return fn(f) }

// PacerConfig configures a [Pacer]. Zero fields take the defaults.
type PacerConfig struct {
	// FPS caps the frames per second delivered (default 30).
	FPS int
	// KeepAlive is how long an unchanged picture waits before it is sent again (default 1 s).
	KeepAlive time.Duration
}

func (c *PacerConfig) defaults() {
	if c.FPS <= 0 {
		c.FPS = 30
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = time.Second
	}
}

// PacerStats are a pacer's counters.
type PacerStats struct {
	Frames     uint64  // frames delivered, keep-alives included
	KeepAlives uint64  // frames delivered only to keep the stream alive
	SinkErrors uint64  // errors returned by the sink
	FPS        float64 // frames delivered in the last second
}

// Pacer delivers frames from a framebuffer to a sink: when it changed, at most FPS a second, and a keep-alive after
// KeepAlive without change. Build with [NewPacer], start with [Pacer.Run].
//
// The cap is a token bucket (FPS tokens a second, [pacerBurst] saved up at most), not a fixed spacing: a change that
// arrives a little less than 1/FPS after the previous one (a 30 fps source jitters around the 30 fps cap) goes out at
// once instead of waiting for the interval and being replaced by the next change. Spacing frames added up to one
// interval of latency and dropped frames on exactly the sources the cap is meant for.
//
// A change that finds the bucket empty is held, and when the token comes it still waits (up to [holdIntervals]
// intervals after it arrived) for a newer change, which then goes out at once in its place. A source painting at
// about the cap keeps the bucket near empty (the cap discards the tokens of late frames, early frames spend ahead),
// and sending each held change when its token came locked every frame to the bucket's refill: a constant 0 to 1/FPS
// of latency set by the phase of the source against the refill (measured: 3 ms in one run, 30 ms in the next).
// Holding instead skips the odd frame of a source at or above the cap and sends the others the moment they arrive.
type Pacer struct {
	fb   *Framebuffer
	sink Sink
	cfg  PacerConfig

	wake  chan struct{}
	kick  atomic.Bool
	frame Frame

	frames, keepAlives, sinkErrors atomic.Uint64
	rate                           RateMeter
	lastErr                        atomic.Pointer[error]
}

// pacerBurst is how many frames the pacer may send back to back after a quiet spell: enough to absorb a source's
// jitter around the cap, too few to let a burst load the encoder.
const pacerBurst = 2

// holdIntervals is how long (in 1/FPS intervals from its arrival) a change held for want of a token waits for a
// newer one before it goes out anyway: longer than one interval, so that the next frame of a source at the cap
// comes first.
const holdIntervals = 1.5

// NewPacer returns a pacer of fb into sink.
func NewPacer(fb *Framebuffer, sink Sink, cfg PacerConfig) *Pacer {
	cfg.defaults()
	return &Pacer{fb: fb, sink: sink, cfg: cfg, wake: make(chan struct{}, 1)}
}

// Kick asks for a frame as soon as the rate cap allows even if nothing changed (for example when a new viewer
// joins and the encoder is about to produce a keyframe).
func (p *Pacer) Kick() {
	p.kick.Store(true)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (p *Pacer) Stats() PacerStats {
	return PacerStats{
		Frames:     p.frames.Load(),
		KeepAlives: p.keepAlives.Load(),
		SinkErrors: p.sinkErrors.Load(),
		FPS:        p.rate.Rate(),
	}
}

// LastError returns the sink's most recent error, or nil.
func (p *Pacer) LastError() error {
	if e := p.lastErr.Load(); e != nil {
		return *e
	}
	return nil
}

// Run delivers frames until ctx is done, then returns ctx.Err(). The first frame goes out at once.
func (p *Pacer) Run(ctx context.Context) error {
	unsubscribe := p.fb.Subscribe(p.wake)
	defer unsubscribe()

	fps := float64(p.cfg.FPS)
	timer := time.NewTimer(0)
	defer timer.Stop()

	var lastSent, lastRefill time.Time
	var lastSeq uint64
	tokens := float64(pacerBurst)
	first := true
	// The newest change not sent for want of a token, and when it was noticed (heldSeq 0: none).
	var heldSeq uint64
	var heldAt time.Time
	hold := time.Duration(holdIntervals / fps * float64(time.Second))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-timer.C:
		}
		now := time.Now()
		if !lastRefill.IsZero() {
			tokens = min(pacerBurst, tokens+now.Sub(lastRefill).Seconds()*fps)
		}
		lastRefill = now
		seq := p.fb.Seq()
		kicked := p.kick.Load()
		changed := first || seq != lastSeq || kicked
		// A held change waits for a newer one until heldAt+hold; a newer change or a kick goes at once.
		waitNewer := heldSeq != 0 && seq == heldSeq && !kicked && now.Sub(heldAt) < hold
		var next time.Duration
		switch {
		case changed && tokens >= 1 && !waitNewer:
			lastSeq = p.deliver(false)
			lastSent, first = now, false
			tokens--
			heldSeq = 0
			next = p.cfg.KeepAlive
		case changed && tokens >= 1:
			next = max(hold-now.Sub(heldAt), time.Millisecond)
		case changed:
			if seq != heldSeq {
				heldSeq, heldAt = seq, now
			}
			// Wake when the next token is there (at least a millisecond, so rounding cannot spin).
			next = max(time.Duration((1-tokens)/fps*float64(time.Second)), time.Millisecond)
		case now.Sub(lastSent) >= p.cfg.KeepAlive:
			lastSeq = p.deliver(true)
			lastSent = now
			next = p.cfg.KeepAlive
		default:
			next = p.cfg.KeepAlive - now.Sub(lastSent)
		}
		timer.Reset(next)
	}
}

// deliver hands the current frame to the sink and returns its sequence number.
func (p *Pacer) deliver(keepAlive bool) uint64 {
	p.kick.Store(false)
	var seq uint64
	p.fb.Take(&p.frame, func(f *Frame) {
		f.KeepAlive = keepAlive
		seq = f.Seq
		if err := p.sink.WriteFrame(f); err != nil {
			p.recordError(err)
		}
	})
	p.frames.Add(1)
	if keepAlive {
		p.keepAlives.Add(1)
	}
	p.rate.Mark()
	return seq
}

// recordError counts a sink error and keeps it (a separate function so the success path allocates nothing).
func (p *Pacer) recordError(err error) {
	p.sinkErrors.Add(1)
	p.lastErr.Store(&err)
}
