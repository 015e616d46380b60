package rfb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

// startSynth serves a synthetic VNC server on a unix socket until the test ends.
func startSynth(t *testing.T, cfg vncsynth.Config) (*vncsynth.Server, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, addr, err := vncsynth.Start(ctx, cfg, "unix:"+filepath.Join(t.TempDir(), "vnc.sock"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-srv.Done() })
	return srv, addr
}

// errorLog is a slog.Handler that keeps the "err" attribute of every record.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *errorLog) WithGroup(string) slog.Handler            { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

// count returns the number of errors logged so far.
func (l *errorLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

// logged returns the first error logged after the first `from` that is want, or nil.
func (l *errorLog) logged(from int, want error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.errs[from:] {
		if errors.Is(err, want) {
			return err
		}
	}
	return nil
}

// startClient runs a client with short back-off until the test ends.
func startClient(t *testing.T, addr string) (*Client, *capture.Framebuffer) {
	c, fb, _ := startClientLog(t, addr)
	return c, fb
}

// startClientLog is startClient that also returns the errors the client logs.
func startClientLog(t *testing.T, addr string) (*Client, *capture.Framebuffer, *errorLog) {
	t.Helper()
	fb := &capture.Framebuffer{}
	log := &errorLog{}
	c := New(Config{Addr: addr, Framebuffer: fb, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Logger: slog.New(log)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return c, fb, log
}

// sameAsServer reports whether the client's framebuffer equals the server's picture exactly.
func sameAsServer(srv *vncsynth.Server, fb *capture.Framebuffer) bool {
	w, h, pix, _ := srv.Snapshot()
	same := false
	var f capture.Frame
	fb.Peek(&f, func(f *capture.Frame) {
		same = f.Width == w && f.Height == h && bytes.Equal(f.CopyTo(nil), pix)
	})
	return same
}

func TestSynthModesPixelExact(t *testing.T) {
	for _, bpp := range []int{16, 32} {
		t.Run(map[int]string{16: "bpp16", 32: "bpp32"}[bpp], func(t *testing.T) {
			srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown, BPP: bpp, Width: 640, Height: 480})
			srv.Pause(true)
			c, fb := startClient(t, addr)
			waitFor(t, 10*time.Second, "640x480 picture", func() bool { return sameAsServer(srv, fb) })
			if m := c.Mode(); m.Width != 640 || m.Height != 480 || m.GuestBPP != bpp {
				t.Fatalf("mode %+v, want 640x480 with guest bpp %d", m, bpp)
			}
			for _, size := range [][2]int{{800, 600}, {1024, 768}, {640, 480}} {
				if err := srv.SetMode(size[0], size[1]); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 10*time.Second, "the new mode, pixel-exact", func() bool {
					m := c.Mode()
					return m.Width == size[0] && m.Height == size[1] && sameAsServer(srv, fb)
				})
			}
			// The animation resumes: every painted frame reaches the framebuffer, stamp included.
			srv.Pause(false)
			waitFor(t, 10*time.Second, "a stamp of a later frame", func() bool {
				var st uint16
				var ok bool
				var f capture.Frame
				fb.Peek(&f, func(f *capture.Frame) { st, ok = vncsynth.DecodeStamp(f.Pix, f.Stride, 4) })
				return ok && uint64(st) > srv.Frame()-10 && st > 5
			})
			if s := c.Stats(); s.Resizes != 3 || s.Connects != 1 || s.LastError != nil {
				t.Fatalf("stats %+v: want 3 resizes on one connection", s)
			}
			// Exactly one request in flight: never a request before the previous one was answered, and at most
			// one unanswered now.
			if s := srv.Stats(); s.Overlapping != 0 || s.Requests-s.Updates > 1 || s.Updates < 5 {
				t.Fatalf("server stats %+v", s)
			}
		})
	}
}

func TestSynthInput(t *testing.T) {
	srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneStill})
	c, _ := startClient(t, addr)
	waitFor(t, 10*time.Second, "relative pointer and extended keys", func() bool { return c.Relative() && c.ExtendedKeys() })

	// check waits for want among the events after the last one checked (zero-motion flushes come in between).
	seen := 0
	check := func(want vncsynth.Event) {
		t.Helper()
		waitFor(t, 5*time.Second, "event "+want.Kind, func() bool {
			evs := srv.Events(0)
			for i := seen; i < len(evs); i++ {
				got := evs[i]
				if got.Kind == want.Kind && got.Buttons == want.Buttons && got.X == want.X && got.Y == want.Y &&
					got.Down == want.Down && got.Keysym == want.Keysym && got.Scancode == want.Scancode {
					seen = i + 1
					return true
				}
			}
			return false
		})
	}
	if err := c.PointerRel(1, -12, 30); err != nil {
		t.Fatal(err)
	}
	check(vncsynth.Event{Kind: vncsynth.KindPointerRel, Buttons: 1, X: -12, Y: 30})
	// Zero-motion events with the same buttons follow motion, len(relFlushAfter) of them and no more.
	waitFor(t, 10*time.Second, "the zero-motion flushes", func() bool {
		return c.Stats().RelFlushes == uint64(len(relFlushAfter))
	})
	time.Sleep(2 * relFlushAfter[len(relFlushAfter)-1])
	if evs := srv.Events(0)[seen:]; len(evs) != len(relFlushAfter) {
		t.Fatalf("after the motion: %+v, want %d zero-motion events", evs, len(relFlushAfter))
	} else {
		for _, ev := range evs {
			if ev.Kind != vncsynth.KindPointerRel || ev.X != 0 || ev.Y != 0 || ev.Buttons != 1 {
				t.Fatalf("flush event %+v, want zero motion with button 1 held", ev)
			}
		}
		seen += len(evs)
	}
	if err := c.PointerRel(0, 40000, -40000); err != nil { // clamped to what 16 bits can carry
		t.Fatal(err)
	}
	check(vncsynth.Event{Kind: vncsynth.KindPointerRel, X: 0xFFFF - RelativeOrigin, Y: -RelativeOrigin})
	if err := c.Key(true, 'a', 0x1e); err != nil {
		t.Fatal(err)
	}
	check(vncsynth.Event{Kind: vncsynth.KindExtKey, Down: true, Keysym: 'a', Scancode: 0x1e})
	if err := c.Key(false, 0xff52, 0xc8); err != nil {
		t.Fatal(err)
	}
	check(vncsynth.Event{Kind: vncsynth.KindExtKey, Keysym: 0xff52, Scancode: 0xc8})
	if err := c.KeyEvent(true, 'b'); err != nil {
		t.Fatal(err)
	}
	check(vncsynth.Event{Kind: vncsynth.KindKey, Down: true, Keysym: 'b'})
	if err := c.Key(true, 0, 0); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Key without codes: %v, want ErrNoKey", err)
	}

	// An absolute server: relative motion is refused, absolute goes through.
	srv2, addr2 := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneStill, AbsolutePointer: true})
	c2, _ := startClient(t, addr2)
	waitFor(t, 10*time.Second, "absolute pointer announced", func() bool { return c2.absolute.Load() })
	if err := c2.PointerRel(0, 1, 1); !errors.Is(err, ErrNoRelative) {
		t.Fatalf("PointerRel on an absolute server: %v, want ErrNoRelative", err)
	}
	if err := c2.PointerAbs(4, 100, 200); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "absolute event", func() bool {
		evs := srv2.Events(0)
		return len(evs) == 1 && evs[0].Kind == vncsynth.KindPointerAbs && evs[0].X == 100 && evs[0].Y == 200 && evs[0].Buttons == 4
	})
}

func TestInputWhileDisconnected(t *testing.T) {
	c := New(Config{Addr: "unix:/nonexistent/vnc.sock", Framebuffer: &capture.Framebuffer{}})
	if err := c.PointerAbs(0, 1, 1); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("PointerAbs: %v", err)
	}
	if err := c.Key(true, 'a', 0x1e); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Key: %v", err)
	}
	worked, err := c.Session(context.Background())
	if worked || !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("Session to a missing socket: worked %v, err %v", worked, err)
	}
}

// fbUpdate builds a FramebufferUpdate message with one rectangle header (and no pixel data).
func fbUpdate(x, y, w, h int, enc int32) []byte {
	b := []byte{0, 0, 0, 1}
	for _, v := range []int{x, y, w, h} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

func TestSynthGarbageReconnects(t *testing.T) {
	srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneStill})
	c, fb, log := startClientLog(t, addr)
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"unknown message type", []byte{0x42, 1, 2, 3}, ErrUnknownMessage},
		{"QEMU server message without audio", []byte{255, 1, 0, 0}, ErrUnknownMessage},
		{"unknown encoding", fbUpdate(0, 0, 1, 1, 7), ErrUnknownEncoding},
		{"rectangle outside the framebuffer", fbUpdate(790, 590, 20, 20, EncodingRaw), ErrMalformed},
		{"huge DesktopSize", fbUpdate(0, 0, 65535, 65535, EncodingDesktopSize), ErrMalformed},
		{"huge cut text", []byte{3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, ErrMalformed},
		{"truncated rectangle", append(fbUpdate(0, 0, 10, 10, EncodingRaw), 1, 2, 3), ErrConnectionLost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A fresh server-side picture proves the current connection is fully set up.
			srv.SetMode(800, 600)
			srv.Step()
			waitFor(t, 10*time.Second, "a connection with a picture", func() bool { return c.Connected() && sameAsServer(srv, fb) })
			connects, logs := c.Stats().Connects, log.count()
			if err := srv.SendRaw(tc.data); err != nil {
				t.Fatal(err)
			}
			if tc.want == ErrConnectionLost { // the rest of the rectangle never comes
				srv.DisconnectAll()
			}
			waitFor(t, 10*time.Second, "reconnection", func() bool { return c.Stats().Connects > connects && c.Connected() })
			if err := c.Stats().LastError; err == nil {
				t.Fatal("no last error")
			}
			if err := log.logged(logs, tc.want); err == nil {
				t.Fatalf("no logged error is %v; logged: %v", tc.want, log.errs)
			} else {
				t.Logf("logged: %v", err)
			}
		})
	}
}
