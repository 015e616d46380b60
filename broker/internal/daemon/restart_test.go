package daemon_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

func allHealthy(b *broker, n int) bool {
	list := b.Registry.List()
	if len(list) != n {
		return false
	}
	for _, in := range list {
		if in.State != locov1.InstanceState_INSTANCE_STATE_HEALTHY {
			return false
		}
	}
	return true
}

// TestBrokerRestartMidSession stops the broker while a viewer watches and starts a new one on the same port: the
// agents re-attach with back-off and the new broker's registry is whole again within 5 s; the media session, which
// never passed through the broker, lives on and can still be ended through the new broker.
func TestBrokerRestartMidSession(t *testing.T) {
	const n = 20
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("loco-%d", i))
	}
	mod := func(c *config.Broker) { c.Instances = ids }
	b1 := startBroker(t, "", mod, daemon.Options{})
	grpcAddr := b1.grpc
	for _, id := range ids {
		startAgent(t, agenttest.Config{ID: id, Broker: grpcAddr, HealthEvery: 250 * time.Millisecond, MaxBackoff: time.Second})
	}
	waitFor(t, 10*time.Second, "every instance healthy", func() bool { return allHealthy(b1, n) })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := agenttest.Watch(ctx, b1.base, "loco-3", url.Values{"viewer": {"v1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	select {
	case <-v.Track:
	case <-ctx.Done():
		t.Fatal("no media before the restart")
	}

	b1.stop()
	b2 := startBroker(t, grpcAddr, mod, daemon.Options{})
	start := time.Now()
	waitFor(t, 5*time.Second, "registry whole again after the restart", func() bool { return allHealthy(b2, n) })
	t.Logf("registry whole %s after the new broker started (%d instances)", time.Since(start).Round(time.Millisecond), n)

	if s := v.PC.ConnectionState(); s != webrtc.PeerConnectionStateConnected {
		t.Errorf("viewer connection %s after the broker restart, want connected", s)
	}
	// The new broker never saw this session; the agent confirms it and the DELETE succeeds.
	if r := do(t, "DELETE", b2.base+v.Location, "", ""); r.code != 200 {
		t.Errorf("DELETE through the new broker: %d %q", r.code, r.body)
	}
}
