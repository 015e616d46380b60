package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loco-cluster/loco/broker/internal/api"
	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// opsServer serves Ops over a registry with n attached, healthy instances on loopback. Every health report is an
// event (HealthEvery of 1 ns).
func opsServer(t *testing.T, n int) (*registry.Registry, string, []string) {
	t.Helper()
	reg := registry.New(registry.Config{HealthEvery: time.Nanosecond, Tick: 10 * time.Millisecond, SilentAfter: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("loco-%03d", i)
		reg.Upsert(discovery.Target{ID: ids[i], Ordinal: int32(i), Workload: &locov1.Workload{Ready: true}})
		reg.Attach(1, &locov1.AgentHello{InstanceId: ids[i]})
		reg.ReportHealth(ids[i], 1, &locov1.HealthReport{Verdict: locov1.Verdict_VERDICT_HEALTHY})
	}
	done := make(chan struct{})
	go func() { _ = reg.Run(ctx); close(done) }()
	gs := grpc.NewServer()
	locov1.RegisterOpsServer(gs, api.NewOps(reg, nil, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(func() { gs.Stop(); cancel(); <-done })
	return reg, ln.Addr().String(), ids
}

// watch opens WatchInstances on a connection of its own with small flow-control windows (no window growth), so a
// client that does not read holds the server's sends up after some 100 KiB.
func watch(t *testing.T, ctx context.Context, addr string) locov1.Ops_WatchInstancesClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	w, err := locov1.NewOpsClient(cc).WatchInstances(ctx, &locov1.WatchInstancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// seen is what a watcher received, checked as it arrives: a snapshot of every instance at one sequence, then changes
// with increasing sequences.
type seen struct {
	start  uint64
	seq    uint64
	events int
	// states lists each instance's states in the order received, a repeated state once; fps is its latest figure.
	states map[string][]locov1.InstanceState
	fps    map[string]float64
}

func (s *seen) take(t *testing.T, m *locov1.WatchInstancesResponse, snapshot bool) error {
	in := m.GetInstance()
	switch {
	case snapshot && m.Type != locov1.EventType_EVENT_TYPE_SNAPSHOT:
		return fmt.Errorf("snapshot event of type %s", m.Type)
	case snapshot && s.events > 0 && m.Sequence != s.start:
		return fmt.Errorf("snapshot events at sequences %d and %d", s.start, m.Sequence)
	case snapshot:
		s.start, s.seq = m.Sequence, m.Sequence
	case m.Type != locov1.EventType_EVENT_TYPE_UPDATED:
		return fmt.Errorf("change of type %s", m.Type)
	case m.Sequence <= s.seq:
		return fmt.Errorf("sequence %d after %d", m.Sequence, s.seq)
	default:
		s.seq = m.Sequence
	}
	s.events++
	if st := s.states[in.Id]; len(st) == 0 || st[len(st)-1] != in.State {
		s.states[in.Id] = append(st, in.State)
	}
	if f := in.GetHealth().GetVncFps(); f < s.fps[in.Id] {
		return fmt.Errorf("%s: figure %v after %v", in.Id, f, s.fps[in.Id])
	}
	s.fps[in.Id] = in.GetHealth().GetVncFps()
	return nil
}

// firstEvent waits for a watcher's first message: its feed exists from then on.
func firstEvent(t *testing.T, w locov1.Ops_WatchInstancesClient) *seen {
	t.Helper()
	s := &seen{states: map[string][]locov1.InstanceState{}, fps: map[string]float64{}}
	m, err := w.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.take(t, m, true); err != nil {
		t.Fatal(err)
	}
	return s
}

// receive reads the rest of the snapshot of n instances, then changes until every instance shows fps last.
func (s *seen) receive(t *testing.T, w locov1.Ops_WatchInstancesClient, n int, last float64) error {
	for done := 0; done < n; {
		m, err := w.Recv()
		if err != nil {
			return fmt.Errorf("after %d events: %w", s.events, err)
		}
		if err := s.take(t, m, s.events < n); err != nil {
			return err
		}
		if s.events > n && m.Instance.GetHealth().GetVncFps() == last {
			done++
		}
	}
	return nil
}

// TestWatchInstancesSlowWatcher: one watcher reads as changes come, another reads nothing until publishing is over.
// Publishing never waits for the stuck one; the reading one gets every change in order; the late one gets, in
// sequence order, every state change of every instance and the latest figures, without a backlog of the figures
// it missed.
func TestWatchInstancesSlowWatcher(t *testing.T) {
	const n, rounds, flipEvery = 100, 60, 10
	reg, addr, ids := opsServer(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stuck := watch(t, ctx, addr)
	reading := watch(t, ctx, addr)
	// Each follows the registry once its first message arrived; the stuck one then reads no more for a while.
	late := firstEvent(t, stuck)
	got := firstEvent(t, reading)
	readingDone := make(chan error, 1)
	go func() { readingDone <- got.receive(t, reading, n, rounds) }()

	// Ground truth: the states each instance goes through. Round r reports figure r; every flipEvery rounds the
	// verdict flips between healthy and degraded, a state change.
	want := map[string][]locov1.InstanceState{}
	for _, id := range ids {
		want[id] = []locov1.InstanceState{locov1.InstanceState_INSTANCE_STATE_HEALTHY}
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 1; r <= rounds; r++ {
					v := locov1.Verdict_VERDICT_HEALTHY
					if (r/flipEvery)%2 == 1 {
						v = locov1.Verdict_VERDICT_DEGRADED
					}
					reg.ReportHealth(id, 1, &locov1.HealthReport{Verdict: v, VncFps: float64(r)})
					time.Sleep(2 * time.Millisecond) // a pace the reading watcher may keep up with, or not
				}
			}()
		}
		wg.Wait()
	}()
	for r := 1; r <= rounds; r++ {
		if r%flipEvery == 0 {
			s := []locov1.InstanceState{locov1.InstanceState_INSTANCE_STATE_HEALTHY, locov1.InstanceState_INSTANCE_STATE_DEGRADED}[(r/flipEvery)%2]
			for _, id := range ids {
				want[id] = append(want[id], s)
			}
		}
	}
	select {
	case <-published:
	case <-ctx.Done():
		t.Fatal("publishing blocked behind a watcher that does not read")
	}

	if err := <-readingDone; err != nil {
		t.Fatalf("reading watcher: %v", err)
	}
	// The stuck watcher reads now: the rest of its snapshot, then what it missed.
	if err := late.receive(t, stuck, n, rounds); err != nil {
		t.Fatalf("late watcher: %v", err)
	}
	for name, s := range map[string]*seen{"reading": got, "late": late} {
		for _, id := range ids {
			if got := fmt.Sprint(s.states[id]); got != fmt.Sprint(want[id]) {
				t.Errorf("%s watcher: %s went through %s, want %s", name, id, got, want[id])
			}
		}
	}
	total := n * rounds
	t.Logf("changes published: %d; received by the reading watcher: %d, by the late one: %d",
		total, got.events-n, late.events-n)
	if late.events-n >= total {
		t.Errorf("the late watcher got all %d changes: it was sent a backlog instead of the latest figures", total)
	}
}

// TestWatchInstancesSnapshotOrder: the snapshot lists every instance in grid order at one sequence; the next change
// follows it.
func TestWatchInstancesSnapshotOrder(t *testing.T) {
	reg, addr, ids := opsServer(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := watch(t, ctx, addr)
	var start uint64
	for i, id := range ids {
		m, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type != locov1.EventType_EVENT_TYPE_SNAPSHOT || m.Instance.Id != id || (i > 0 && m.Sequence != start) {
			t.Fatalf("snapshot event %d: %s %s at %d", i, m.Type, m.Instance.Id, m.Sequence)
		}
		start = m.Sequence
	}
	reg.Remove(ids[2], "pod deleted")
	m, err := w.Recv()
	if err != nil || m.Type != locov1.EventType_EVENT_TYPE_REMOVED || m.Instance.Id != ids[2] || m.Sequence != start+1 ||
		m.Instance.State != locov1.InstanceState_INSTANCE_STATE_GONE {
		t.Fatalf("after the snapshot: %v %v", m, err)
	}
}
