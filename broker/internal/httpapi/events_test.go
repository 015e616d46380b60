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
// quickly: publishing never waits for it, and the broker cuts it off (it would reconnect and get a snapshot).
func TestSlowSSEClientIsDropped(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics := registry.NewMetrics(prometheus.NewRegistry())
	reg := registry.New(registry.Config{Log: log, Metrics: metrics})
	sig := signaling.New(signaling.Config{}, reg, noAgents{}, log, nil)
	srv := httptest.NewServer(New(Config{EventBuffer: 16, WriteTimeout: 500 * time.Millisecond}, reg, noAgents{}, sig, nil, nil,
		prometheus.NewRegistry(), log).Handler())
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/events HTTP/1.1\r\nHost: broker\r\n\r\n")
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(metrics.Subscribers) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("SSE client never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	big := strings.Repeat("x", 32<<10)
	start := time.Now()
	for i := range 2000 {
		reg.Upsert(discovery.Target{ID: "a", Ordinal: int32(i), Workload: &locov1.Workload{Address: big}})
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("publishing 2000 events took %s with a stuck client", d)
	}
	deadline = time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(metrics.Subscribers) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stuck SSE client was never dropped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if testutil.ToFloat64(metrics.Dropped) < 1 {
		t.Error("drop not counted")
	}
}
