package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	"github.com/loco-cluster/loco/broker/internal/recovery"
)

// broker is an in-process broker on loopback ports.
type broker struct {
	*daemon.Daemon
	base   string // http://127.0.0.1:port
	grpc   string // 127.0.0.1:port
	cancel context.CancelFunc
	done   chan error
}

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("LOCO_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	var err error
	// A port just released by a stopped broker may take a moment to be free again.
	for range 50 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("listen %s: %v", addr, err)
	return nil
}

// startBroker runs a broker; mod adjusts its configuration, opts its options. grpcAddr may name a fixed port
// (restart tests); "" picks a free one.
func startBroker(t testing.TB, grpcAddr string, mod func(*config.Broker), opts daemon.Options) *broker {
	t.Helper()
	cfg := &config.Broker{
		Discovery: "static", Instances: []string{"loco-0", "loco-1", "loco-2"},
		Recover: recovery.ModeOff, RecoverAfter: 90 * time.Second, RecoverBackoff: time.Minute,
		RecoverMaxFraction: 0.25, AnswerTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(cfg)
	}
	if grpcAddr == "" {
		grpcAddr = "127.0.0.1:0"
	}
	opts.HTTPListener = listen(t, "127.0.0.1:0")
	opts.GRPCListener = listen(t, grpcAddr)
	ready := make(chan *daemon.Daemon, 1)
	opts.Ready = func(d *daemon.Daemon) { ready <- d }
	ctx, cancel := context.WithCancel(context.Background())
	b := &broker{cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- daemon.Run(ctx, cfg, opts, testLog(t)) }()
	select {
	case d := <-ready:
		b.Daemon = d
	case err := <-b.done:
		t.Fatalf("broker did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("broker did not start in 30s")
	}
	b.base = "http://" + b.HTTPAddr.String()
	b.grpc = b.GRPCAddr.String()
	t.Cleanup(b.stop)
	return b
}

// stop stops the broker and waits for it.
func (b *broker) stop() {
	if b.cancel == nil {
		return
	}
	b.cancel()
	<-b.done
	b.cancel = nil
}

// startAgent runs a fake agent until the test ends.
func startAgent(t testing.TB, cfg agenttest.Config) *agenttest.Agent {
	t.Helper()
	a := agenttest.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

// minWait is the shortest time waitFor gives a condition. The timeouts written in the tests say how long the step
// takes on a quiet machine; CI shares this 2-core machine with other work (load averages of 30 happen), and a test
// checks that the behaviour happens, not how fast (that is for the benchmarks). waitFor returns as soon as the
// condition holds, so the floor costs nothing when things work.
const minWait = time.Minute

// waitFor polls cond every 20ms until it holds or timeout (at least minWait) passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	timeout = max(timeout, minWait)
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
