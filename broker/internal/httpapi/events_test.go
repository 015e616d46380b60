package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	"github.com/loco-cluster/loco/broker/internal/signaling"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// TestSlowSSEClientIsDropped connects an SSE client that never reads while the registry publishes large events
// quickly (each a new instance, so none replaces another): publishing never waits for it, and the broker cuts it off
// (it would reconnect and get a snapshot), either because it fell more than EventBuffer changes behind or because a
// write to it timed out.
func TestSlowSSEClientIsDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"backlog", Config{EventBuffer: 16, WriteTimeout: time.Minute}},
		{"write timeout", Config{EventBuffer: 1 << 20, WriteTimeout: 500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			metrics := registry.NewMetrics(prometheus.NewRegistry())
			reg := registry.New(registry.Config{Log: log, Metrics: metrics})
			sig := signaling.New(signaling.Config{}, reg, noAgents{}, log, nil)
			srv := httptest.NewServer(New(tc.cfg, reg, noAgents{}, sig, nil, nil, prometheus.NewRegistry(), log).Handler())
			defer srv.Close()

			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "GET /api/events HTTP/1.1\r\nHost: broker\r\n\r\n")
			waitGauge(t, metrics.Subscribers, 1, "SSE client never subscribed")
			big := strings.Repeat("x", 32<<10)
			start := time.Now()
			for i := range 4000 {
				reg.Upsert(discovery.Target{ID: fmt.Sprintf("i-%d", i), Ordinal: int32(i), Workload: &locov1.Workload{Address: big}})
				if i%100 == 0 {
					time.Sleep(5 * time.Millisecond) // let the handler write between bursts
				}
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("publishing 4000 events took %s with a stuck client", d)
			}
			waitGauge(t, metrics.Subscribers, 0, "the stuck SSE client was never dropped")
			if testutil.ToFloat64(metrics.Dropped) < 1 {
				t.Error("drop not counted")
			}
		})
	}
}

// waitGauge waits up to 20 s for g to read want.
func waitGauge(t *testing.T, g prometheus.Gauge, want float64, msg string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(g) != want {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sseFrame is one parsed event of the stream.
type sseFrame struct {
	id  uint64
	msg *locov1.WatchInstancesResponse
}

// readFrames parses SSE frames from body into out until the body ends; every frame must be well formed. A line cut
// short by the end of the stream (the test closing the connection mid-frame) is not a frame. Wait for out to be
// closed before the test ends.
func readFrames(t *testing.T, body io.Reader, out chan<- sseFrame, each func()) {
	defer close(out)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(func(data []byte, _ bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // whole lines only
	})
	var f sseFrame
	for sc.Scan() {
		if each != nil {
			each()
		}
		line := sc.Text()
		switch {
		case line == "":
			if f.msg != nil {
				out <- f
			}
			f = sseFrame{}
		case strings.HasPrefix(line, "id: "):
			id, err := strconv.ParseUint(line[4:], 10, 64)
			if err != nil {
				t.Errorf("id line %q", line)
			}
			f.id = id
		case strings.HasPrefix(line, "data: "):
			f.msg = &locov1.WatchInstancesResponse{}
			if err := protojson.Unmarshal([]byte(line[6:]), f.msg); err != nil {
				t.Errorf("data %q: %v", line, err)
			}
			if f.msg.Sequence != f.id {
				t.Errorf("id %d, sequence %d", f.id, f.msg.Sequence)
			}
		}
	}
}

// stopReading closes the stream that readFrames reads (with closeStream) and waits until readFrames returned.
func stopReading(closeStream func() error, frames <-chan sseFrame) {
	_ = closeStream()
	for range frames { // drain what is left
	}
}

// TestSSELaggingClient: a client that reads slowly while every instance reports health as fast as it can sees
// ids increase, never an older figure of an instance after a newer one, and ends up with the latest figure of
// every instance, on a stream that stays open.
func TestSSELaggingClient(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := registry.NewMetrics(prometheus.NewRegistry())
	reg := registry.New(registry.Config{HealthEvery: time.Nanosecond, Tick: 10 * time.Millisecond, SilentAfter: time.Hour,
		Log: log, Metrics: metrics})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = reg.Run(ctx) }()
	const n, reports = 50, 300
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("i-%02d", i)
		reg.Upsert(discovery.Target{ID: ids[i], Ordinal: int32(i), Workload: &locov1.Workload{Ready: true}})
		reg.Attach(1, &locov1.AgentHello{InstanceId: ids[i]})
	}
	sig := signaling.New(signaling.Config{}, reg, noAgents{}, log, nil)
	srv := httptest.NewServer(New(Config{EventInterval: 20 * time.Millisecond}, reg, noAgents{}, sig, nil, nil,
		prometheus.NewRegistry(), log).Handler())
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(conn, "GET /api/events HTTP/1.1\r\nHost: broker\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 512), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("response %s %v", resp.Status, resp.Header)
	}
	frames := make(chan sseFrame, 16)
	go readFrames(t, resp.Body, frames, func() { time.Sleep(200 * time.Microsecond) }) // a slow reader
	t.Cleanup(func() { stopReading(conn.Close, frames) })

	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= reports; k++ {
				reg.ReportHealth(id, 1, &locov1.HealthReport{Verdict: locov1.Verdict_VERDICT_HEALTHY, VncFps: float64(k)})
			}
		}()
	}
	last := map[string]float64{}
	var seq uint64
	count, done := 0, 0
	deadline := time.After(90 * time.Second)
	for done < n {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream ended after %d events", count)
			}
			count++
			if f.id <= seq && f.msg.Type != locov1.EventType_EVENT_TYPE_SNAPSHOT {
				t.Fatalf("id %d after %d", f.id, seq)
			}
			seq = f.id
			id, fps := f.msg.Instance.GetId(), f.msg.Instance.GetHealth().GetVncFps()
			if fps < last[id] {
				t.Fatalf("%s: figure %v after %v", id, fps, last[id])
			}
			if fps == reports && last[id] != reports {
				done++
			}
			last[id] = fps
		case <-deadline:
			t.Fatalf("after %d events only %d of %d instances showed their latest figure", count, done, n)
		}
	}
	wg.Wait()
	t.Logf("%d events for %d health reports", count, n*reports)
	if testutil.ToFloat64(metrics.Dropped) != 0 {
		t.Error("the slow client was dropped")
	}
}

// TestSSEOverHTTP2: where the connection cannot be hijacked the stream is written through the ResponseWriter.
func TestSSEOverHTTP2(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(registry.Config{Log: log})
	reg.Upsert(discovery.Target{ID: "a", Workload: &locov1.Workload{Ready: true}})
	sig := signaling.New(signaling.Config{}, reg, noAgents{}, log, nil)
	srv := httptest.NewUnstartedServer(New(Config{}, reg, noAgents{}, sig, nil, nil, prometheus.NewRegistry(), log).Handler())
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s %s %v", resp.Proto, resp.Status, resp.Header)
	}
	frames := make(chan sseFrame, 16)
	go readFrames(t, resp.Body, frames, nil)
	t.Cleanup(func() { stopReading(resp.Body.Close, frames) })
	wait := func(what string) sseFrame {
		t.Helper()
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream ended before %s", what)
			}
			return f
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s", what)
		}
		return sseFrame{}
	}
	if f := wait("snapshot"); f.msg.Type != locov1.EventType_EVENT_TYPE_SNAPSHOT || f.msg.Instance.GetId() != "a" {
		t.Fatalf("snapshot %v", f.msg)
	}
	reg.Upsert(discovery.Target{ID: "b", Ordinal: 1, Workload: &locov1.Workload{Ready: true}})
	if f := wait("change"); f.msg.Type != locov1.EventType_EVENT_TYPE_ADDED || f.msg.Instance.GetId() != "b" {
		t.Fatalf("change %v", f.msg)
	}
}

// TestSSEHead answers HEAD with the stream's headers and no stream.
func TestSSEHead(t *testing.T) {
	srv := httptest.NewServer(testServer())
	defer srv.Close()
	resp, err := http.Head(srv.URL + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("HEAD: %s %v", resp.Status, resp.Header)
	}
}
