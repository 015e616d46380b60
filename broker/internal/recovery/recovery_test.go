package recovery

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// fakeInstances is a registry stand-in whose states the test sets.
type fakeInstances map[string]*locov1.Instance

func (f fakeInstances) List() []*locov1.Instance {
	var out []*locov1.Instance
	for i := range len(f) {
		if in, ok := f[fmt.Sprintf("i%d", i)]; ok {
			out = append(out, in)
		}
	}
	return out
}

func (f fakeInstances) Get(id string) (*locov1.Instance, bool) { in, ok := f[id]; return in, ok }

func (f fakeInstances) set(id string, s locov1.InstanceState, since time.Time) {
	f[id] = &locov1.Instance{Id: id, State: s, StateSince: timestamppb.New(since)}
}

type call struct {
	id  string
	dry bool
}

type fakeRestarter struct{ calls []call }

func (f *fakeRestarter) Restart(_ context.Context, in *locov1.Instance, _ string, dry bool) (string, error) {
	f.calls = append(f.calls, call{in.Id, dry})
	return "restarted", nil
}

func setup(n int, mode Mode, fraction float64) (*Loop, fakeInstances, *fakeRestarter, *time.Time) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	insts := fakeInstances{}
	for i := range n {
		insts.set(fmt.Sprintf("i%d", i), locov1.InstanceState_INSTANCE_STATE_HEALTHY, now)
	}
	r := &fakeRestarter{}
	l := New(Config{Mode: mode, After: 90 * time.Second, Backoff: time.Minute, MaxFraction: fraction, Now: func() time.Time { return now }},
		insts, r, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	return l, insts, r, &now
}

func TestRestartAfterDelayWithExponentialBackoff(t *testing.T) {
	l, insts, r, now := setup(4, ModeOn, 0.25)
	ctx := context.Background()
	insts.set("i1", locov1.InstanceState_INSTANCE_STATE_UNHEALTHY, *now)
	*now = now.Add(89 * time.Second)
	l.Evaluate(ctx)
	if len(r.calls) != 0 {
		t.Fatal("restarted before --recover-after")
	}
	*now = now.Add(2 * time.Second)
	l.Evaluate(ctx)
	if len(r.calls) != 1 || r.calls[0] != (call{"i1", false}) {
		t.Fatalf("calls %v, want one restart of i1", r.calls)
	}
	// Still unhealthy: the next restart waits 1 min, the one after 2 min.
	insts.set("i1", locov1.InstanceState_INSTANCE_STATE_UNHEALTHY, now.Add(-time.Hour))
	for _, step := range []struct {
		wait  time.Duration
		calls int
	}{{59 * time.Second, 1}, {2 * time.Second, 2}, {100 * time.Second, 2}, {25 * time.Second, 3}} {
		*now = now.Add(step.wait)
		l.Evaluate(ctx)
		if len(r.calls) != step.calls {
			t.Fatalf("after +%s: %d restarts, want %d", step.wait, len(r.calls), step.calls)
		}
	}
	// Healthy for longer than the current back-off: history forgiven, the next restart needs only --recover-after.
	insts.set("i1", locov1.InstanceState_INSTANCE_STATE_HEALTHY, *now)
	l.Evaluate(ctx)
	*now = now.Add(5 * time.Minute)
	l.Evaluate(ctx)
	if _, ok := l.tracks["i1"]; ok {
		t.Error("history kept after a long healthy period")
	}
}

func TestAtMostAFractionAtOnce(t *testing.T) {
	l, insts, r, now := setup(8, ModeOn, 0.25) // at most 2 of 8
	for i := range 5 {
		insts.set(fmt.Sprintf("i%d", i), locov1.InstanceState_INSTANCE_STATE_UNHEALTHY, *now)
	}
	*now = now.Add(2 * time.Minute)
	l.Evaluate(context.Background())
	if len(r.calls) != 2 {
		t.Fatalf("%d restarts at once, want 2 (25%% of 8)", len(r.calls))
	}
	// One of them recovers: one more slot.
	insts.set(r.calls[0].id, locov1.InstanceState_INSTANCE_STATE_HEALTHY, *now)
	*now = now.Add(time.Second)
	l.Evaluate(context.Background())
	if len(r.calls) != 3 {
		t.Fatalf("%d restarts after one recovered, want 3", len(r.calls))
	}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		want []call
	}{{ModeDryRun, []call{{"i0", true}}}, {ModeOn, []call{{"i0", false}}}} {
		l, insts, r, now := setup(1, tc.mode, 1)
		insts.set("i0", locov1.InstanceState_INSTANCE_STATE_UNHEALTHY, *now)
		*now = now.Add(2 * time.Minute)
		l.Evaluate(context.Background())
		l.Evaluate(context.Background()) // the back-off holds the second one
		if fmt.Sprint(r.calls) != fmt.Sprint(tc.want) {
			t.Errorf("%s: calls %v, want %v", tc.mode, r.calls, tc.want)
		}
	}
	// Off: Run only waits.
	l, insts, r, now := setup(1, ModeOff, 1)
	insts.set("i0", locov1.InstanceState_INSTANCE_STATE_UNHEALTHY, now.Add(-time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = l.Run(ctx)
	if len(r.calls) != 0 {
		t.Error("recovery acted in mode off")
	}
	for _, s := range []string{"off", "dry-run", "on"} {
		if m, err := ParseMode(s); err != nil || m.String() != s {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("yes"); err == nil {
		t.Error("ParseMode accepted junk")
	}
}

func TestManualIgnoresRateLimit(t *testing.T) {
	l, _, r, _ := setup(2, ModeOn, 0.25)
	for range 3 {
		if _, err := l.Manual(context.Background(), "i0", ""); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.calls) != 3 {
		t.Errorf("%d manual restarts, want 3", len(r.calls))
	}
	if _, err := l.Manual(context.Background(), "nope", ""); err == nil {
		t.Error("manual restart of an unknown instance succeeded")
	}
}
