package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
