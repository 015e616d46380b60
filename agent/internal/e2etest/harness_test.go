package e2etest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
	"github.com/loco-cluster/loco/agent/internal/webrtc"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// startSynth serves a synthetic VNC server on a unix socket and returns it with its address.
func startSynth(t testing.TB, cfg vncsynth.Config) (*vncsynth.Server, string) {
	t.Helper()
	cfg.Logger = testLogger(t)
	srv, err := vncsynth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "vnc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv, "unix:" + sock
}

// startAgent runs an instance against addr and returns it.
func startAgent(t testing.TB, addr string, codec encode.Codec, mutate func(*instance.Config)) *instance.Instance {
	t.Helper()
	cfg := instance.Config{
		VNC:      addr,
		Codec:    codec,
		AudioOff: true,
		WebRTC:   webrtc.Config{ListenIP: "127.0.0.1", TCPPort: -1, AllowLoopback: true},
		Logger:   testLogger(t),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	in, err := instance.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("instance: %v", err)
		}
	})
	return in
}

// connect makes a viewer and starts its session.
func connect(t testing.TB, in *instance.Instance, id string, control bool) (*webrtctest.Viewer, webrtc.Answer) {
	t.Helper()
	return connectReq(t, in, webrtc.OfferRequest{SessionID: "s-" + id,
		Viewer: webrtc.Viewer{ID: id, Name: "name-" + id}, WantControl: control})
}

// connectReq makes a viewer and starts its session with req (its SDP filled in).
func connectReq(t testing.TB, in *instance.Instance, req webrtc.OfferRequest) (*webrtctest.Viewer, webrtc.Answer) {
	t.Helper()
	v, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	offer, err := v.Offer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req.SDP = offer
	ans, err := in.WebRTC.Offer(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Accept(ans.SDP); err != nil {
		t.Fatal(err)
	}
	return v, ans
}

// waitCtx returns a context that ends after d (or when the test ends). The waits under it return as soon as what
// they wait for happened: d is a bound for a hung path, generous because GStreamer pipelines, Pion peers and QEMU
// share two cores with other tenants' tests (load average 30 is normal here).
func waitCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitKeyFrame waits for a keyframe among the frames after the first n and returns how long after sent it arrived.
func waitKeyFrame(ctx context.Context, v *webrtctest.Viewer, n int, sent time.Time) (time.Duration, error) {
	var got time.Duration
	err := v.WaitFor(ctx, func() bool {
		for _, f := range v.Frames()[n:] {
			if f.Keyframe {
				got = f.Arrived.Sub(sent)
				return true
			}
		}
		return false
	})
	return got, err
}

// waitPicture decodes the viewer's frames as they arrive, from the first keyframe at index from or later, until a
// decoded picture satisfies ok, and returns that picture. ok describes a picture that does not satisfy it; when ctx
// ends first, the test fails with the last description.
func waitPicture(ctx context.Context, t *testing.T, v *webrtctest.Viewer, codec encode.Codec, what string, from int,
	ok func(encode.Picture) (bool, string)) encode.Picture {
	t.Helper()
	dec, err := encode.NewDecoder(codec)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	next, started, last := from, false, "nothing decoded"
	for {
		frames := v.Frames()
		for ; next < len(frames); next++ {
			if !started && !frames[next].Keyframe {
				continue
			}
			started = true
			pic, got, err := dec.Decode(frames[next].Data, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: frame %d: %v", what, next, err)
			}
			if !got {
				continue
			}
			good, desc := ok(pic)
			if good {
				return pic
			}
			last = fmt.Sprintf("frame %d: %s", next, desc)
		}
		n := next
		if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) > n }); err != nil {
			t.Fatalf("%s: not seen in %d frames (from frame %d; last decoded %s): %v", what, n, from, last, err)
		}
	}
}

// frozenFrame returns a check for waitPicture: the picture is the server's frozen frame pix (its size and stamp) at
// minPSNR or more; *psnr gets the PSNR of the frozen frame last decoded.
func frozenFrame(t *testing.T, pix []byte, w, h int, minPSNR float64,
	psnr *float64) func(encode.Picture) (bool, string) {
	t.Helper()
	want, ok := vncsynth.DecodeStamp(pix, w*4, 4)
	if !ok {
		t.Fatal("no stamp in the server's frozen picture")
	}
	return func(p encode.Picture) (bool, string) {
		s, ok := vncsynth.DecodeStamp(p.Pix, p.Width*4, 4)
		if p.Width != w || p.Height != h || !ok || s != want {
			return false, fmt.Sprintf("%dx%d with stamp %d (readable %v), want %dx%d with stamp %d", p.Width, p.Height,
				s, ok, w, h, want)
		}
		*psnr = encode.PSNR(p.Pix, pix, w, h)
		return *psnr >= minPSNR, fmt.Sprintf("the frozen frame at PSNR %.1f dB, want %.0f", *psnr, minPSNR)
	}
}
