package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, name string
	msg      *locov1.WatchInstancesResponse
}

// openEvents connects to /api/events and delivers parsed events until ctx ends.
func openEvents(t testing.TB, ctx context.Context, base string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events Content-Type %q", ct)
	}
	out := make(chan sseEvent, 10000)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					ev.msg = &locov1.WatchInstancesResponse{}
					if err := protojson.Unmarshal([]byte(data), ev.msg); err != nil {
						t.Errorf("event data is not WatchInstancesResponse JSON: %v: %s", err, data)
					}
					out <- ev
				}
				ev, data = sseEvent{}, ""
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				if data != "" {
					t.Errorf("multi-line data in one event")
				}
				data = line[6:]
			}
		}
	}()
	return out
}

func TestEventsStream(t *testing.T) {
	b := startBroker(t, "", nil, daemon.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs := openEvents(t, ctx, b.base)
	for i := range 3 {
		ev := <-evs
		if ev.name != "instance" || ev.msg.Type != locov1.EventType_EVENT_TYPE_SNAPSHOT || ev.msg.Instance.Ordinal != int32(i) {
			t.Fatalf("snapshot event %d: %+v", i, ev)
		}
		if ev.id != strconv.FormatUint(ev.msg.Sequence, 10) {
			t.Errorf("id %q does not match sequence %d", ev.id, ev.msg.Sequence)
		}
	}
	// The agent reports health 20 times a second; the stream carries at most one health-only event per second.
	a := startAgent(t, agenttest.Config{ID: "loco-1", Broker: b.grpc, HealthEvery: 50 * time.Millisecond})
	<-a.Attached()
	var last uint64
	var updates []uint64
	var states []locov1.InstanceState
	timeout := time.After(3 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-evs:
			if ev.msg.Sequence <= last {
				t.Fatalf("sequence %d after %d", ev.msg.Sequence, last)
			}
			last = ev.msg.Sequence
			if ev.msg.Instance.Id != "loco-1" || ev.msg.Type != locov1.EventType_EVENT_TYPE_UPDATED {
				t.Fatalf("unexpected event %s for %s", ev.msg.Type, ev.msg.Instance.Id)
			}
			st := ev.msg.Instance.State
			if len(states) == 0 || states[len(states)-1] != st {
				states = append(states, st)
			} else {
				updates = append(updates, ev.msg.Sequence)
			}
		case <-timeout:
			done = true
		}
	}
	if len(states) != 2 || states[0] != locov1.InstanceState_INSTANCE_STATE_ATTACHED || states[1] != locov1.InstanceState_INSTANCE_STATE_HEALTHY {
		t.Errorf("state sequence %v, want ATTACHED then HEALTHY", states)
	}
	// About 55 health reports arrived in 3 s; health-only events must be about one a second.
	if len(updates) < 1 || len(updates) > 4 {
		t.Errorf("%d health-only events in 3s, want 1..4 (coalesced to 1/s)", len(updates))
	}
	// The list endpoint agrees with the stream and uses the protojson shape of docs/api.md.
	r := do(t, "GET", b.base+"/api/instances", "", "")
	var list struct {
		Instances []map[string]any `json:"instances"`
	}
	if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list.Instances) != 3 {
		t.Fatalf("list: %v %q", err, r.body)
	}
	if s := list.Instances[1]["state"]; s != "INSTANCE_STATE_HEALTHY" {
		t.Errorf("loco-1 state %v", s)
	}
	if _, ok := list.Instances[0]["agent"]; !ok {
		t.Error("unpopulated field agent not emitted")
	}
}
