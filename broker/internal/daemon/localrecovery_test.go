package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	"github.com/loco-cluster/loco/broker/internal/recovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// TestLocalRecovery: without Kubernetes, an instance unhealthy for longer than --recover-after is restarted by
// asking its agent to restart QEMU over the Attach stream, once per back-off, and the restart is counted in
// /metrics. An agent that goes silent while attached counts as unhealthy too.
func TestLocalRecovery(t *testing.T) {
	b := startBroker(t, "", func(c *config.Broker) {
		c.Recover, c.RecoverAfter, c.RecoverBackoff, c.RecoverMaxFraction = recovery.ModeOn, 500*time.Millisecond, time.Hour, 1
	}, daemon.Options{RecoverInterval: 50 * time.Millisecond, Registry: registry.Config{SilentAfter: time.Second}})
	sick := startAgent(t, agenttest.Config{ID: "loco-0", Broker: b.grpc, HealthEvery: 100 * time.Millisecond})
	silent := startAgent(t, agenttest.Config{ID: "loco-1", Broker: b.grpc, HealthEvery: 100 * time.Millisecond})
	well := startAgent(t, agenttest.Config{ID: "loco-2", Broker: b.grpc, HealthEvery: 100 * time.Millisecond})
	waitFor(t, 10*time.Second, "three healthy instances", func() bool { return allHealthy(b, 3) })

	sick.SetVerdict(locov1.Verdict_VERDICT_UNHEALTHY)
	silent.SetSilent(true)
	waitFor(t, 10*time.Second, "QEMU restarts requested for the unhealthy and the silent instance", func() bool {
		return sick.Restarts.Load() == 1 && silent.Restarts.Load() == 1
	})
	in, _ := b.Registry.Get("loco-1")
	if !strings.Contains(in.GetReason(), "stopped reporting health") {
		t.Errorf("silent agent's reason %q", in.GetReason())
	}
	time.Sleep(time.Second) // both stay unhealthy; the back-off (1h) holds further restarts
	if sick.Restarts.Load() != 1 || silent.Restarts.Load() != 1 || well.Restarts.Load() != 0 {
		t.Errorf("restarts: sick %d, silent %d, well %d; want 1, 1, 0", sick.Restarts.Load(), silent.Restarts.Load(), well.Restarts.Load())
	}
	r := do(t, "GET", b.base+"/metrics", "", "")
	if !strings.Contains(r.body, `loco_broker_recovery_restarts_total{mode="on",result="ok"} 2`) {
		t.Errorf("recovery metric missing from /metrics:\n%s", grepLines(r.body, "loco_broker_recovery"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
