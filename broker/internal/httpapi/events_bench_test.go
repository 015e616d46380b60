package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	"github.com/loco-cluster/loco/broker/internal/signaling"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// countingWriter counts what the SSE clients receive.
type countingWriter struct{ n *atomic.Int64 }

func (w countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// BenchmarkSSEFanout publishes health reports of 1,000 instances (every report an event) to N SSE clients over
// real HTTP on loopback: ns/op and B/op are per report and include the fan-out to every client (the clients only
// count bytes); MB/s-delivered is what the clients received.
//
//	go test -run XXX -bench SSEFanout -benchmem ./internal/httpapi/
func BenchmarkSSEFanout(b *testing.B) {
	for _, viewers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("viewers=%d", viewers), func(b *testing.B) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			metrics := registry.NewMetrics(prometheus.NewRegistry())
			reg := registry.New(registry.Config{HealthEvery: time.Nanosecond, Log: log, Metrics: metrics})
			ids := make([]string, 1000)
			for i := range ids {
				ids[i] = fmt.Sprintf("sim-%d", i)
				reg.Upsert(discovery.Target{ID: ids[i], Ordinal: int32(i), Workload: &locov1.Workload{Ready: true}})
				reg.Attach(1, &locov1.AgentHello{InstanceId: ids[i], AgentVersion: "bench"})
			}
			sig := signaling.New(signaling.Config{}, reg, noAgents{}, log, nil)
			srv := httptest.NewServer(New(Config{}, reg, noAgents{}, sig, nil, nil, prometheus.NewRegistry(), log).Handler())
			defer srv.Close()
			var got atomic.Int64
			for range viewers {
				conn, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				fmt.Fprintf(conn, "GET /api/events HTTP/1.1\r\nHost: broker\r\n\r\n")
				go func() { _, _ = io.Copy(countingWriter{&got}, conn) }()
			}
			deadline := time.Now().Add(60 * time.Second)
			for testutil.ToFloat64(metrics.Subscribers) < float64(viewers) {
				if time.Now().After(deadline) {
					b.Fatal("clients did not subscribe")
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(time.Second) // snapshots written
			h := &locov1.HealthReport{Verdict: locov1.Verdict_VERDICT_HEALTHY, VncConnected: true, EncodedFps: 30,
				Screen: locov1.ScreenVerdict_SCREEN_VERDICT_OK, Qemu: locov1.QemuState_QEMU_STATE_RUNNING}
			start, before := time.Now(), got.Load()
			b.ResetTimer()
			for i := range b.N {
				h.VncFps = float64(i)
				reg.ReportHealth(ids[i%len(ids)], 1, h)
			}
			b.StopTimer()
			time.Sleep(200 * time.Millisecond) // the last paced writes
			b.ReportMetric(float64(got.Load()-before)/time.Since(start).Seconds()/1e6, "MB/s-delivered")
		})
	}
}
