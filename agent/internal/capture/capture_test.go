package capture

import (
	"bytes"
	"context"
	"errors"
	"image"
	"sync"
	"testing"
	"time"
)

// paint fills r with one byte value and reports it as damage.
func paint(fb *Framebuffer, r image.Rectangle, v byte) {
	wd, ht := fb.Size()
	r = r.Intersect(image.Rect(0, 0, wd, ht))
	w := fb.BeginWrite()
	pix, stride := w.Pix(), w.Stride()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X * 4; x < r.Max.X*4; x++ {
			pix[y*stride+x] = v
		}
	}
	w.Damage(r)
	w.End()
}

func TestFramebuffer(t *testing.T) {
	fb, err := NewFramebuffer(64, 48)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 1)
	unsub := fb.Subscribe(ch)
	defer unsub()
	seq := fb.Seq()
	var f Frame
	fb.Take(&f, func(f *Frame) {
		if f.Width != 64 || f.Height != 48 || f.Stride != 256 || len(f.Pix) != 256*48 || f.Damage != image.Rect(0, 0, 64, 48) {
			t.Fatalf("first frame %dx%d stride %d len %d damage %v", f.Width, f.Height, f.Stride, len(f.Pix), f.Damage)
		}
	})
	paint(fb, image.Rect(2, 3, 10, 5), 7)
	paint(fb, image.Rect(60, 40, 70, 50), 9) // clipped to the framebuffer
	if fb.Seq() != seq+2 {
		t.Fatalf("seq %d, want %d", fb.Seq(), seq+2)
	}
	select {
	case <-ch:
	default:
		t.Fatal("no change signal")
	}
	fb.Peek(&f, func(f *Frame) {
		if f.Damage != image.Rect(2, 3, 64, 48) {
			t.Fatalf("peek damage %v", f.Damage)
		}
	})
	fb.Take(&f, func(f *Frame) {
		if f.Damage != image.Rect(2, 3, 64, 48) {
			t.Fatalf("take damage %v", f.Damage)
		}
		if f.Pix[3*f.Stride+2*4] != 7 || f.Pix[3*f.Stride+1*4] != 0 || f.Pix[47*f.Stride+63*4] != 9 {
			t.Fatal("pixels not where painted")
		}
		packed := f.CopyTo(nil)
		if len(packed) != 64*48*4 || packed[3*256+8] != 7 {
			t.Fatal("CopyTo")
		}
	})
	fb.Take(&f, func(f *Frame) {
		if !f.Damage.Empty() {
			t.Fatalf("damage after take %v", f.Damage)
		}
	})
	// A write that damages nothing changes nothing.
	w := fb.BeginWrite()
	w.Damage(image.Rect(100, 100, 120, 120))
	w.End()
	if fb.Seq() != seq+2 {
		t.Fatal("empty write changed seq")
	}
	// Resizing: same size is a no-op, a new size clears and damages everything, too large is refused.
	w = fb.BeginWrite()
	if err := w.Resize(64, 48); err != nil {
		t.Fatal(err)
	}
	w.End()
	if fb.Seq() != seq+2 {
		t.Fatal("same-size resize changed seq")
	}
	w = fb.BeginWrite()
	err = w.Resize(MaxWidth+1, 10)
	w.End()
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("resize too large: %v", err)
	}
	w = fb.BeginWrite()
	if err := w.Resize(32, 16); err != nil {
		t.Fatal(err)
	}
	w.End()
	if wd, ht := fb.Size(); wd != 32 || ht != 16 {
		t.Fatalf("size %dx%d", wd, ht)
	}
	fb.Take(&f, func(f *Frame) {
		if f.Damage != image.Rect(0, 0, 32, 16) || len(f.Pix) != 32*16*4 {
			t.Fatalf("after resize: damage %v len %d", f.Damage, len(f.Pix))
		}
		for _, b := range f.Pix {
			if b != 0 {
				t.Fatal("resized framebuffer is not black")
			}
		}
	})
}

// recorder is a sink that counts frames.
type recorder struct {
	mu         sync.Mutex
	frames     int
	keepAlives int
	last       []byte
	firsts     []byte // first byte of each delivered frame
}

func (r *recorder) WriteFrame(f *Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames++
	if f.KeepAlive {
		r.keepAlives++
	}
	r.last = f.CopyTo(r.last)
	if len(r.last) > 0 {
		r.firsts = append(r.firsts, r.last[0])
	}
	return nil
}

// delivered returns the first byte of every frame delivered so far.
func (r *recorder) delivered() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.firsts...)
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames, r.keepAlives
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPacer(t *testing.T) {
	fb, _ := NewFramebuffer(32, 32)
	rec := &recorder{}
	p := NewPacer(fb, rec, PacerConfig{FPS: 20, KeepAlive: 300 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	}()

	waitFor(t, "the first frame", func() bool { n, _ := rec.counts(); return n == 1 })
	// A still screen yields only keep-alives, about one per KeepAlive.
	time.Sleep(700 * time.Millisecond)
	n, ka := rec.counts()
	if n < 2 || n > 5 || ka != n-1 {
		t.Fatalf("still screen over 0.7 s: %d frames, %d keep-alives; want 1 + about 2 keep-alives", n, ka)
	}
	// Changes faster than the cap are coalesced: 100 changes over 0.5 s at 20 fps give at most ~11 frames, and
	// the last picture is delivered.
	start, _ := rec.counts()
	t0 := time.Now()
	for i := range 100 {
		paint(fb, image.Rect(0, 0, 4, 4), byte(i+1))
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "the last change", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.last) > 0 && rec.last[0] == 100
	})
	n, _ = rec.counts()
	elapsed := time.Since(t0)
	if got, most := n-start, int(elapsed.Seconds()*20)+2; got < 2 || got > most {
		t.Fatalf("%d frames for 100 changes in %v at 20 fps (at most %d)", got, elapsed, most)
	}
	// Kick delivers a frame although nothing changed.
	n, _ = rec.counts()
	p.Kick()
	waitFor(t, "a kicked frame", func() bool { m, _ := rec.counts(); return m > n })
	if s := p.Stats(); s.Frames == 0 || s.SinkErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestPacerDoesNotSpaceFrames: after a quiet spell a change goes out at once even if it comes sooner than 1/FPS after
// the previous frame (the cap is a rate with a small burst, not a spacing that delays jittery sources by an
// interval). At 1 fps a spacing pacer would hold the second change for a whole second.
func TestPacerDoesNotSpaceFrames(t *testing.T) {
	fb, _ := NewFramebuffer(16, 16)
	rec := runPacer(t, fb, PacerConfig{FPS: 1, KeepAlive: time.Minute})

	waitFor(t, "the first frame", func() bool { n, _ := rec.counts(); return n == 1 })
	time.Sleep(1100 * time.Millisecond) // a quiet second: the bucket refills
	t0 := time.Now()
	paint(fb, image.Rect(0, 0, 4, 4), 7)
	waitFor(t, "the change right after a quiet second", func() bool { n, _ := rec.counts(); return n == 2 })
	if d := time.Since(t0); d > 700*time.Millisecond {
		t.Fatalf("a change after a quiet second took %v to go out at 1 fps: the pacer spaced it", d)
	}
	// The cap still holds over time: 20 changes in 1.5 s at 1 fps give at most 2 (burst) + 2 more frames.
	start, _ := rec.counts()
	for i := range 20 {
		paint(fb, image.Rect(0, 0, 4, 4), byte(i+10))
		time.Sleep(75 * time.Millisecond)
	}
	if n, _ := rec.counts(); n-start > 4 {
		t.Fatalf("%d frames for 20 changes in 1.5 s at 1 fps", n-start)
	}
}

// TestPacerHeldChangeGivesWayToNewer: a change that finds no token is held, and when its token comes it still waits
// (up to 1.5 intervals from its arrival) for a newer change, which goes out in its place the moment it arrives;
// with no newer change the held one goes out after that. Sending the held change when its token came would lock a
// source running at the cap to the bucket's refill (up to one interval of latency on every frame).
func TestPacerHeldChangeGivesWayToNewer(t *testing.T) {
	fb, _ := NewFramebuffer(16, 16)
	// 1 fps: the token comes within 1 s of the held change, the hold ends 1.5 s after it; the newer change is
	// painted 1.2 s after it, with wide margins both sides for a loaded machine.
	rec := runPacer(t, fb, PacerConfig{FPS: 1, KeepAlive: time.Minute})

	waitFor(t, "the first frame", func() bool { return len(rec.delivered()) == 1 })
	paint(fb, image.Rect(0, 0, 4, 4), 'A') // the burst's second token: out at once
	waitFor(t, "A", func() bool { d := rec.delivered(); return len(d) == 2 && d[1] == 'A' })
	paint(fb, image.Rect(0, 0, 4, 4), 'B') // no token left: held
	heldAt := time.Now()
	time.Sleep(1200 * time.Millisecond)
	paint(fb, image.Rect(0, 0, 4, 4), 'C') // token there, B still held: C goes in its place
	waitFor(t, "C", func() bool { d := rec.delivered(); return len(d) >= 3 })
	if d := rec.delivered(); d[2] != 'C' {
		t.Fatalf("after the held B (%v ago) and a newer C, delivered %q; want C in B's place", time.Since(heldAt), d[1:])
	}
	// With no newer change, a held change still goes out.
	paint(fb, image.Rect(0, 0, 4, 4), 'D')
	waitFor(t, "D", func() bool { d := rec.delivered(); return len(d) == 4 && d[3] == 'D' })
	if d := rec.delivered(); bytes.IndexByte(d, 'B') >= 0 {
		t.Fatalf("delivered %q: the held B went out although C replaced it", d)
	}
}

// runPacer runs a pacer of fb into a recorder until the test ends.
func runPacer(t *testing.T, fb *Framebuffer, cfg PacerConfig) *recorder {
	rec := &recorder{}
	p := NewPacer(fb, rec, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return rec
}

func TestPacerSinkError(t *testing.T) {
	fb, _ := NewFramebuffer(8, 8)
	boom := errors.New("boom")
	p := NewPacer(fb, SinkFunc(func(*Frame) error { return boom }), PacerConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = p.Run(ctx) }()
	defer cancel()
	waitFor(t, "a sink error", func() bool { return p.Stats().SinkErrors > 0 })
	if !errors.Is(p.LastError(), boom) {
		t.Fatalf("last error %v", p.LastError())
	}
}

func TestMonitor(t *testing.T) {
	fb, _ := NewFramebuffer(640, 480)
	m := NewMonitor(fb, MonitorConfig{FrozenAfter: time.Second})
	now := time.Now()
	st := m.CheckAt(now)
	if !st.Black || st.Frozen || st.Width != 640 {
		t.Fatalf("fresh black framebuffer: %+v", st)
	}
	paint(fb, image.Rect(300, 200, 340, 260), 200)
	st = m.CheckAt(time.Now())
	if st.Black {
		t.Fatalf("painted framebuffer judged black: %+v", st)
	}
	st = m.CheckAt(time.Now().Add(3 * time.Second))
	if !st.Frozen || st.SinceChange < 2*time.Second {
		t.Fatalf("unchanged for 3 s: %+v", st)
	}
	paint(fb, image.Rect(0, 0, 1, 1), 1)
	if st = m.Check(); st.Frozen || st.SinceChange > time.Second {
		t.Fatalf("just changed: %+v", st)
	}
	// Dark but not black content (below the level) still counts as black.
	paint(fb, image.Rect(0, 0, 640, 480), 10)
	if st = m.Check(); !st.Black {
		t.Fatalf("level-10 screen: %+v", st)
	}
}

func TestRateMeter(t *testing.T) {
	var m RateMeter
	t0 := time.Unix(1000, 0)
	for i := range 30 {
		m.MarkAt(t0.Add(time.Duration(i) * 33 * time.Millisecond))
	}
	if r := m.RateAt(t0.Add(time.Second)); r < 25 || r > 31 {
		t.Fatalf("rate %v after 30 marks in a second", r)
	}
	if r := m.RateAt(t0.Add(5 * time.Second)); r != 0 {
		t.Fatalf("rate %v after 4 idle seconds", r)
	}
	if m.Total() != 30 {
		t.Fatalf("total %d", m.Total())
	}
}

// BenchmarkFramePath is the per-frame work between the RFB decoder and the encoder: a small update written into
// the framebuffer, then the frame taken and copied once into a reusable buffer (what a sink does).
// Run: go test -run '^$' -bench FramePath -benchmem ./internal/capture/
func BenchmarkFramePath(b *testing.B) {
	fb, _ := NewFramebuffer(800, 600)
	rec := &recorder{last: make([]byte, 800*600*4)} // the sink's reusable buffer, allocated once
	var f Frame
	b.SetBytes(800 * 600 * 4)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		w := fb.BeginWrite()
		w.Pix()[(i%600)*w.Stride()] = byte(i)
		w.Damage(image.Rect(0, i%600, 1, i%600+1))
		w.End()
		fb.Take(&f, func(f *Frame) { _ = rec.WriteFrame(f) })
	}
}

// BenchmarkPacerDeliver measures the pacer's own delivery (take, sink call, counters) without copying.
func BenchmarkPacerDeliver(b *testing.B) {
	fb, _ := NewFramebuffer(800, 600)
	p := NewPacer(fb, SinkFunc(func(*Frame) error { return nil }), PacerConfig{})
	b.ReportAllocs()
	for b.Loop() {
		p.deliver(false)
	}
}
