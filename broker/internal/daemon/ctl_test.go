package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/ctl"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// syncBuffer is a goroutine-safe buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func lococtl(t *testing.T, ctx context.Context, b *broker, args ...string) (string, error) {
	t.Helper()
	var out, errOut syncBuffer
	env := map[string]string{"LOCO_BROKER": b.grpc}
	err := ctl.Run(ctx, args, ctl.IO{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string { return env[k] }})
	return out.String(), err
}

func TestLococtlAndOpsAPI(t *testing.T) {
	b := startBroker(t, "", nil, daemon.Options{})
	a := startAgent(t, agenttest.Config{ID: "loco-0", Broker: b.grpc, HealthEvery: 100 * time.Millisecond})
	<-a.Attached()
	waitFor(t, 5*time.Second, "loco-0 healthy", func() bool {
		in, _ := b.Registry.Get("loco-0")
		return in.GetState() == locov1.InstanceState_INSTANCE_STATE_HEALTHY
	})
	ctx := context.Background()

	out, err := lococtl(t, ctx, b, "ls")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "#") || !strings.Contains(lines[1], "loco-0") ||
		!strings.Contains(lines[1], "healthy") || !strings.Contains(lines[2], "expected") {
		t.Errorf("ls table:\n%s", out)
	}
	out, err = lococtl(t, ctx, b, "ls", "-o", "json")
	var list locov1.ListInstancesResponse
	if err != nil || protojson.Unmarshal([]byte(out), &list) != nil || len(list.Instances) != 3 {
		t.Errorf("ls -o json: %v\n%s", err, out)
	}

	out, err = lococtl(t, ctx, b, "health", "loco-0")
	if err != nil || !strings.Contains(out, "SERVING") || !strings.Contains(out, "VERDICT_HEALTHY") {
		t.Errorf("health: %v\n%s", err, out)
	}
	out, err = lococtl(t, ctx, b, "health", "loco-0", "-o", "json")
	var in locov1.Instance
	if err != nil || protojson.Unmarshal([]byte(out), &in) != nil || in.Id != "loco-0" {
		t.Errorf("health -o json: %v\n%s", err, out)
	}
	if _, err := lococtl(t, ctx, b, "health", "nope"); status.Code(errors.Unwrap(err)) != codes.NotFound {
		t.Errorf("health of an unknown instance: %v", err)
	}

	out, err = lococtl(t, ctx, b, "restart", "loco-0", "--reason", "test")
	if err != nil || strings.TrimSpace(out) != "loco-0: qemu restarted" || a.Restarts.Load() != 1 {
		t.Errorf("restart: %v %q", err, out)
	}
	if _, err := lococtl(t, ctx, b, "restart", "loco-1"); status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Errorf("restart without an agent: %v", err)
	}

	file := filepath.Join(t.TempDir(), "shot.png")
	if _, err := lococtl(t, ctx, b, "screenshot", "loco-0", "-o", file); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, agenttest.Picture("loco-0")) {
		t.Error("screenshot file is not the agent's picture")
	}

	for _, bad := range [][]string{{}, {"frobnicate"}, {"health"}, {"ls", "-o", "yaml"}, {"screenshot", "loco-0"}} {
		if _, err := lococtl(t, ctx, b, bad...); !errors.Is(err, ctl.ErrUsage) {
			t.Errorf("lococtl %q: %v, want a usage error", bad, err)
		}
	}

	// watch: the snapshot, then a change.
	wctx, cancel := context.WithCancel(ctx)
	var wout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- ctl.Run(wctx, []string{"--broker", b.grpc, "watch", "-o", "json"}, ctl.IO{Stdout: &wout, Stderr: &wout, Getenv: func(string) string { return "" }})
	}()
	waitFor(t, 5*time.Second, "the watch snapshot", func() bool { return strings.Count(wout.String(), "EVENT_TYPE_SNAPSHOT") == 3 })
	a.SetVerdict(locov1.Verdict_VERDICT_DEGRADED)
	waitFor(t, 5*time.Second, "the watched change", func() bool { return strings.Contains(wout.String(), "INSTANCE_STATE_DEGRADED") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch ended with %v", err)
	}

	// grpc.health.v1 with instance ids as service names.
	cc, err := grpc.NewClient(b.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("broker health: %v %v", r, err)
	}
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "loco-1"}); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("loco-1 health: %v %v", r, err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	defer hcancel()
	w, err := hc.Watch(hctx, &healthpb.HealthCheckRequest{Service: "loco-0"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch first: %v %v", r, err)
	}
	a.SetVerdict(locov1.Verdict_VERDICT_UNHEALTHY)
	if r, err := w.Recv(); err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health watch after unhealthy: %v %v", r, err)
	}
}
