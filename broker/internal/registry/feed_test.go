package registry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// next takes everything f has now.
func next(t *testing.T, f *Feed) []*Event {
	t.Helper()
	evs, ok := f.Next(nil, 1<<30)
	if !ok {
		t.Fatal("feed ended")
	}
	return evs
}

// attached returns a registry with healthy instances ids, each reporting health every time the test says.
func attached(t *testing.T, ids ...string) (*Registry, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := New(Config{Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: NewMetrics(prometheus.NewRegistry())})
	for i, id := range ids {
		r.Upsert(target(id, int32(i), true))
		r.Attach(1, hello(id))
		r.ReportHealth(id, 1, health(locov1.Verdict_VERDICT_HEALTHY, 1))
	}
	return r, c
}

func TestFeedSnapshotThenChanges(t *testing.T) {
	r, c := attached(t, "b", "a")
	latest, f := r.Follow(100)
	defer f.Close()
	if len(latest) != 2 || latest[0].Instance.Id != "b" || latest[1].Instance.Id != "a" {
		t.Fatalf("snapshot not in grid order: %v", latest)
	}
	if f.Start() != r.seq || latest[0].Instance.State != locov1.InstanceState_INSTANCE_STATE_HEALTHY {
		t.Fatalf("snapshot at %d (registry at %d), state %s", f.Start(), r.seq, latest[0].Instance.State)
	}
	select {
	case <-f.Ready():
		t.Fatal("ready with nothing new")
	default:
	}
	c.Add(2 * time.Second)
	r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_HEALTHY, 2))
	select {
	case <-f.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("not ready after a change")
	}
	evs := next(t, f)
	if len(evs) != 1 || evs[0].Seq != f.Start()+1 || evs[0].Instance.Health.VncFps != 2 {
		t.Fatalf("after the snapshot: %v", evs)
	}
	if evs := next(t, f); len(evs) != 0 {
		t.Fatalf("the same change twice: %v", evs)
	}
}

// TestFeedLaggingReader: a reader that takes its changes late gets, per instance, every state change and the latest
// figures, in sequence order, never an older state after a newer one; a reader that keeps up gets everything.
func TestFeedLaggingReader(t *testing.T) {
	r, c := attached(t, "a", "b", "c")
	_, slow := r.Follow(100)
	_, fast := r.Follow(100)
	var got []*Event
	report := func(id string, v locov1.Verdict, fps float64) {
		c.Add(2 * time.Second) // past HealthEvery: every report is an event
		r.ReportHealth(id, 1, health(v, fps))
		got = append(got, next(t, fast)...)
	}
	for fps := 2.0; fps <= 10; fps++ {
		report("a", locov1.Verdict_VERDICT_HEALTHY, fps)
		report("b", locov1.Verdict_VERDICT_HEALTHY, fps)
	}
	report("c", locov1.Verdict_VERDICT_DEGRADED, 11)
	report("c", locov1.Verdict_VERDICT_DEGRADED, 12)
	report("c", locov1.Verdict_VERDICT_HEALTHY, 13)
	report("c", locov1.Verdict_VERDICT_HEALTHY, 14)
	report("a", locov1.Verdict_VERDICT_HEALTHY, 15)
	if len(got) != 23 {
		t.Fatalf("a reader that keeps up got %d changes, want all 23", len(got))
	}

	evs := next(t, slow)
	type seen struct {
		id    string
		state locov1.InstanceState
		fps   float64
	}
	var want = []seen{
		{"b", locov1.InstanceState_INSTANCE_STATE_HEALTHY, 10},
		{"c", locov1.InstanceState_INSTANCE_STATE_DEGRADED, 12}, // DEGRADED at 11 replaced by the same state at 12
		{"c", locov1.InstanceState_INSTANCE_STATE_HEALTHY, 14},
		{"a", locov1.InstanceState_INSTANCE_STATE_HEALTHY, 15},
	}
	if len(evs) != len(want) {
		t.Fatalf("lagging reader got %d changes, want %d: %v", len(evs), len(want), evs)
	}
	for i, ev := range evs {
		g := seen{ev.Instance.Id, ev.Instance.State, ev.Instance.Health.VncFps}
		if g != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, g, want[i])
		}
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Errorf("sequence %d after %d", ev.Seq, evs[i-1].Seq)
		}
	}
	if testutil.ToFloat64(r.cfg.Metrics.Subscribers) != 2 {
		t.Error("subscriber gauge does not count feeds")
	}
}

// TestFeedReaderTakesAGroupAtATime: what a reader leaves for later can still be replaced.
func TestFeedReaderTakesAGroupAtATime(t *testing.T) {
	r, c := attached(t, "a", "b")
	_, f := r.Follow(100)
	defer f.Close()
	for fps := 2.0; fps <= 4; fps++ {
		c.Add(2 * time.Second)
		r.ReportHealth("a", 1, health(locov1.Verdict_VERDICT_HEALTHY, fps))
		r.ReportHealth("b", 1, health(locov1.Verdict_VERDICT_HEALTHY, fps))
	}
	evs, ok := f.Next(nil, 1)
	if !ok || len(evs) != 1 || evs[0].Instance.Id != "a" || evs[0].Instance.Health.VncFps != 4 {
		t.Fatalf("first group: %v", evs)
	}
	c.Add(2 * time.Second)
	r.ReportHealth("b", 1, health(locov1.Verdict_VERDICT_HEALTHY, 5))
	evs = next(t, f)
	if len(evs) != 1 || evs[0].Instance.Id != "b" || evs[0].Instance.Health.VncFps != 5 {
		t.Fatalf("second group: %v", evs)
	}
}

// TestFeedRemovedAndReadded: a removal is never replaced, so a lagging reader sees an instance go before it comes
// back.
func TestFeedRemovedAndReadded(t *testing.T) {
	r, _ := attached(t, "a")
	_, f := r.Follow(100)
	defer f.Close()
	r.Remove("a", "pod deleted")
	r.Detach("a", 1)
	r.Upsert(target("a", 7, false))
	evs := next(t, f)
	if len(evs) != 2 || evs[0].Type != locov1.EventType_EVENT_TYPE_REMOVED || evs[1].Type != locov1.EventType_EVENT_TYPE_ADDED ||
		evs[1].Instance.Ordinal != 7 {
		t.Fatalf("removed and re-added: %v", evs)
	}
}

// TestFeedBoundedAndDropped: a reader that never reads costs the registry at most one entry per instance for its
// health updates, and is dropped once its unread state changes exceed its limit.
func TestFeedBoundedAndDropped(t *testing.T) {
	r, c := attached(t, "a", "b", "c")
	_, stuck := r.Follow(64)
	_, reading := r.Follow(1 << 20)
	defer reading.Close()
	for fps := range 20000 {
		c.Add(2 * time.Second)
		r.ReportHealth([]string{"a", "b", "c"}[fps%3], 1, health(locov1.Verdict_VERDICT_HEALTHY, float64(fps)))
	}
	if n := len(r.log); n > 2*minCompact {
		t.Fatalf("log of %d entries for a reader that is 20000 health updates of 3 instances behind", n)
	}
	if stuck.Dropped() {
		t.Fatal("dropped for health updates, which replace each other")
	}
	if evs := next(t, reading); len(evs) != 3 {
		t.Fatalf("reader got %d changes, want the latest of each instance", len(evs))
	}
	// Verdict flips are state changes, which are all kept: the stuck reader falls behind and is cut off.
	for i := range 4 * minCompact {
		c.Add(2 * time.Second)
		r.ReportHealth("a", 1, health([]locov1.Verdict{locov1.Verdict_VERDICT_DEGRADED, locov1.Verdict_VERDICT_HEALTHY}[i%2], 1))
	}
	if !stuck.Dropped() {
		t.Fatal("a reader thousands of state changes behind was not dropped")
	}
	if _, ok := stuck.Next(nil, 10); ok {
		t.Error("Next on a dropped feed")
	}
	select {
	case <-stuck.Ready():
	default:
		t.Error("a dropped feed is not ready")
	}
	if testutil.ToFloat64(r.cfg.Metrics.Dropped) != 1 {
		t.Error("drop not counted")
	}
	if evs := next(t, reading); len(evs) != 4*minCompact {
		t.Errorf("reader got %d state changes, want %d", len(evs), 4*minCompact)
	}
	// Once every feed has read it, the log is trimmed at the next compaction.
	for i := range 3 * 4 * minCompact {
		c.Add(2 * time.Second)
		r.ReportHealth("b", 1, health(locov1.Verdict_VERDICT_HEALTHY, float64(i)))
	}
	if n := len(r.log); n > 2*minCompact {
		t.Errorf("log of %d entries after every feed read it", n)
	}
}

func TestFeedEndsWithTheRegistry(t *testing.T) {
	r, _ := attached(t, "a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	_, f := r.Follow(10)
	ready := f.Ready()
	cancel()
	<-done
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting reader was not woken when the registry stopped")
	}
	if _, ok := f.Next(nil, 10); ok || f.Dropped() {
		t.Error("feed still open, or reported as dropped, after the registry stopped")
	}
	if _, f2 := r.Follow(10); !f2.done {
		t.Error("new feed on a stopped registry")
	}
	f.Close()
	f.Close()
}

// TestFeedUnderLoad: many instances reporting as fast as they can while readers of every speed follow: each reader
// sees sequence numbers increase, never an older figure of an instance after a newer one, and ends with the latest
// figure of every instance.
func TestFeedUnderLoad(t *testing.T) {
	metrics := NewMetrics(prometheus.NewRegistry())
	r := New(Config{HealthEvery: time.Nanosecond, Tick: 10 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }() // flushes a health event held back by HealthEvery
	const n, reports = 50, 400
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-%02d", i)
		r.Upsert(target(ids[i], int32(i), true))
		r.Attach(1, hello(ids[i]))
	}
	pauses := []time.Duration{0, time.Millisecond, 20 * time.Millisecond}
	errs := make(chan error, len(pauses))
	for _, pause := range pauses {
		latest, f := r.Follow(1 << 20)
		go func() {
			defer f.Close()
			last := map[string]float64{}
			for _, ev := range latest {
				last[ev.Instance.Id] = ev.Instance.GetHealth().GetVncFps()
			}
			var seq uint64
			deadline := time.After(60 * time.Second)
			for done := 0; done < n; {
				select {
				case <-f.Ready():
				case <-deadline:
					errs <- fmt.Errorf("reader pausing %s: only %d of %d instances reached their latest figure", pause, done, n)
					return
				}
				evs, ok := f.Next(nil, 16)
				if !ok {
					errs <- fmt.Errorf("reader pausing %s: feed ended", pause)
					return
				}
				for _, ev := range evs {
					if ev.Seq <= seq {
						errs <- fmt.Errorf("reader pausing %s: sequence %d after %d", pause, ev.Seq, seq)
						return
					}
					seq = ev.Seq
					id, fps := ev.Instance.Id, ev.Instance.GetHealth().GetVncFps()
					if fps < last[id] {
						errs <- fmt.Errorf("reader pausing %s: %s: figure %v after %v", pause, id, fps, last[id])
						return
					}
					if fps == reports && last[id] != reports {
						done++
					}
					last[id] = fps
				}
				time.Sleep(pause)
			}
			errs <- nil
		}()
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= reports; k++ {
				r.ReportHealth(id, 1, health(locov1.Verdict_VERDICT_HEALTHY, float64(k)))
			}
		}()
	}
	wg.Wait()
	for range pauses {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
