package e2etest

import (
	"context"
	"errors"
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
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
