package registry

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/loco-cluster/loco/broker/internal/discovery"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// clock is a manual clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest() (*Registry, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(Config{Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}), c
}

func target(id string, ord int32, ready bool) discovery.Target {
	t := discovery.Target{ID: id, Ordinal: ord, Workload: &locov1.Workload{Ready: ready, Pod: id}}
	if !ready {
		t.Reason = "pod pending"
	}
	return t
}

func hello(id string) *locov1.AgentHello { return &locov1.AgentHello{InstanceId: id} }

func health(v locov1.Verdict, fps float64) *locov1.HealthReport {
	return &locov1.HealthReport{Verdict: v, VncFps: fps}
}

// drain returns the changes f has not handed out yet, without blocking.
func drain(f *Feed) []*Event {
	evs, _ := f.Next(nil, 1<<30)
	return evs
}

func state(t *testing.T, r *Registry, id string) locov1.InstanceState {
	t.Helper()
	in, ok := r.Get(id)
	if !ok {
		return locov1.InstanceState_INSTANCE_STATE_GONE
	}
	return in.State
}

func TestStates(t *testing.T) {
	r, c := newTest()
	_, sub := r.Follow(100)
	r.Upsert(target("a", 0, false))
	if s := state(t, r, "a"); s != locov1.InstanceState_INSTANCE_STATE_EXPECTED {
		t.Fatalf("new target: %s", s)
	}
	r.Upsert(target("a", 0, true))
	r.Attach(1, hello("a"))
	if s := state(t, r, "a"); s != locov1.InstanceState_INSTANCE_STATE_ATTACHED {
		t.Fatalf("attached: %s", s)
	}
	for _, tc := range []struct {
		v    locov1.Verdict
		want locov1.InstanceState
	}{
		{locov1.Verdict_VERDICT_HEALTHY, locov1.InstanceState_INSTANCE_STATE_HEALTHY},
		{locov1.Verdict_VERDICT_DEGRADED, locov1.InstanceState_INSTANCE_STATE_DEGRADED},
		{locov1.Verdict_VERDICT_UNHEALTHY, locov1.InstanceState_INSTANCE_STATE_UNHEALTHY},
		{locov1.Verdict_VERDICT_UNSPECIFIED, locov1.InstanceState_INSTANCE_STATE_ATTACHED},
		{locov1.Verdict_VERDICT_HEALTHY, locov1.InstanceState_INSTANCE_STATE_HEALTHY},
	} {
		r.ReportHealth("a", 1, health(tc.v, 30))
		if s := state(t, r, "a"); s != tc.want {
			t.Errorf("verdict %s: state %s, want %s", tc.v, s, tc.want)
		}
	}
	// Silence: attached but no report for longer than SilentAfter.
	c.Add(6 * time.Second)
	r.tick()
	if s := state(t, r, "a"); s != locov1.InstanceState_INSTANCE_STATE_UNHEALTHY {
		t.Errorf("silent agent: %s", s)
	}
	r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_HEALTHY, 30))
	// A stale stream's reports and detach are ignored once a newer stream attached.
	r.Attach(2, hello("a"))
	r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_UNHEALTHY, 0))
	r.Detach("a", 1)
	if s := state(t, r, "a"); s != locov1.InstanceState_INSTANCE_STATE_ATTACHED {
		t.Errorf("after re-attach and a stale detach: %s", s)
	}
	r.Detach("a", 2)
	if s := state(t, r, "a"); s != locov1.InstanceState_INSTANCE_STATE_EXPECTED {
		t.Errorf("detached: %s", s)
	}
	r.Remove("a", "pod deleted")
	if _, ok := r.Get("a"); ok {
		t.Error("removed instance still listed")
	}
	evs := drain(sub)
	last := evs[len(evs)-1]
	if last.Type != locov1.EventType_EVENT_TYPE_REMOVED || last.Instance.State != locov1.InstanceState_INSTANCE_STATE_GONE ||
		last.Instance.Reason != "pod deleted" {
		t.Errorf("last event %s %s %q, want REMOVED GONE \"pod deleted\"", last.Type, last.Instance.State, last.Instance.Reason)
	}
	if evs[0].Type != locov1.EventType_EVENT_TYPE_ADDED {
		t.Errorf("first event %s, want ADDED", evs[0].Type)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 {
			t.Fatalf("sequence jumps from %d to %d", evs[i-1].Seq, evs[i].Seq)
		}
	}
}

func TestUntrustedAgentKeptApart(t *testing.T) {
	r, _ := newTest()
	if r.Attach(1, hello("stranger")) {
		t.Fatal("agent for an unknown instance trusted")
	}
	if len(r.List()) != 0 {
		t.Fatal("untrusted agent became an instance")
	}
	if u := r.Untrusted(); len(u) != 1 || u[0] != "stranger" {
		t.Fatalf("untrusted = %v", u)
	}
	r.ReportHealth("stranger", 1, health(locov1.Verdict_VERDICT_HEALTHY, 30))
	// Discovery names it: the attachment joins, with its health.
	r.Upsert(target("stranger", 4, true))
	if s := state(t, r, "stranger"); s != locov1.InstanceState_INSTANCE_STATE_HEALTHY {
		t.Errorf("after discovery: %s", s)
	}
	if len(r.Untrusted()) != 0 {
		t.Error("still untrusted after discovery")
	}
	// Pod removed while the agent stays attached: GONE, and the agent is kept apart again.
	r.Remove("stranger", "pod deleted")
	if u := r.Untrusted(); len(u) != 1 {
		t.Errorf("untrusted after removal = %v", u)
	}
	r.Detach("stranger", 1)
	if len(r.Untrusted()) != 0 || len(r.entries) != 0 {
		t.Error("detached untrusted agent not forgotten")
	}
}

func TestHealthCoalescing(t *testing.T) {
	r, c := newTest()
	r.Upsert(target("a", 0, true))
	r.Attach(1, hello("a"))
	r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_HEALTHY, 30))
	_, sub := r.Follow(1000)
	// Ten reports within 900ms: figures change, state does not.
	for i := range 10 {
		c.Add(90 * time.Millisecond)
		r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_HEALTHY, float64(20+i)))
		r.tick()
	}
	if evs := drain(sub); len(evs) != 0 {
		t.Fatalf("%d events within the first second after the last one, want 0", len(evs))
	}
	c.Add(200 * time.Millisecond)
	r.tick()
	evs := drain(sub)
	if len(evs) != 1 || evs[0].Instance.Health.VncFps != 29 {
		t.Fatalf("after 1s: %d events (want 1 carrying the latest figures)", len(evs))
	}
	// A state change is published at once.
	c.Add(10 * time.Millisecond)
	r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_UNHEALTHY, 0))
	if evs := drain(sub); len(evs) != 1 || evs[0].Instance.State != locov1.InstanceState_INSTANCE_STATE_UNHEALTHY {
		t.Fatalf("state change: %d events", len(evs))
	}
}

// TestSlowFeedNeverBlocksPublishing: a reader that takes nothing holds up neither publishing nor other readers, and
// when it reads at last it still gets every state change, in order.
func TestSlowFeedNeverBlocksPublishing(t *testing.T) {
	r, c := newTest()
	r.Upsert(target("a", 0, true))
	r.Attach(1, hello("a"))
	_, slow := r.Follow(1000)
	_, fast := r.Follow(1000)
	verdicts := []locov1.Verdict{locov1.Verdict_VERDICT_HEALTHY, locov1.Verdict_VERDICT_DEGRADED}
	done := make(chan struct{})
	var got []*Event
	go func() {
		for i := range 50 {
			c.Add(time.Millisecond)
			r.ReportHealth("a", 1, health(verdicts[i%2], float64(i))) // every report flips the state
			got = append(got, drain(fast)...)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("publishing blocked on a feed that does not read")
	}
	late := drain(slow)
	for name, evs := range map[string][]*Event{"reading": got, "late": late} {
		if len(evs) != 50 {
			t.Fatalf("%s feed got %d state changes, want 50", name, len(evs))
		}
		for i, ev := range evs {
			want := []locov1.InstanceState{locov1.InstanceState_INSTANCE_STATE_HEALTHY,
				locov1.InstanceState_INSTANCE_STATE_DEGRADED}[i%2]
			if ev.Instance.State != want || ev.Instance.Health.VncFps != float64(i) || (i > 0 && ev.Seq <= evs[i-1].Seq) {
				t.Fatalf("%s feed, change %d: %s fps %v seq %d", name, i, ev.Instance.State, ev.Instance.Health.VncFps, ev.Seq)
			}
		}
	}
	fast.Close()
	fast.Close()
	if fast.Dropped() || slow.Dropped() {
		t.Error("a closed or slow feed reported as dropped")
	}
}

func TestSnapshotIsAtomicAndOrdered(t *testing.T) {
	r, _ := newTest()
	for _, id := range []string{"c", "a", "b"} {
		r.Upsert(target(id, map[string]int32{"a": 0, "b": 1, "c": 2}[id], true))
	}
	snap, sub := r.Follow(10)
	defer sub.Close()
	if len(snap) != 3 || snap[0].Instance.Id != "a" || snap[2].Instance.Id != "c" {
		t.Fatalf("snapshot order wrong: %v", snap)
	}
	if sub.Start() != 3 {
		t.Errorf("snapshot at sequence %d, want 3", sub.Start())
	}
	for _, ev := range snap {
		if ev.Type != locov1.EventType_EVENT_TYPE_ADDED || ev.Seq > 3 {
			t.Errorf("snapshot event %s seq %d, want each instance's latest change", ev.Type, ev.Seq)
		}
	}
	r.Upsert(target("d", 3, true))
	evs := drain(sub)
	if len(evs) != 1 || evs[0].Seq != 4 || evs[0].Type != locov1.EventType_EVENT_TYPE_ADDED {
		t.Fatalf("event after snapshot: %+v", evs)
	}
}
