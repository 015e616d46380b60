package registry

import (
	"github.com/prometheus/client_golang/prometheus"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Metrics are the registry's Prometheus metrics.
type Metrics struct {
	// Instances counts instances by state.
	Instances *prometheus.GaugeVec
	// Untrusted counts attached agents whose instance discovery does not know.
	Untrusted prometheus.Gauge
	// Subscribers counts open feeds (SSE clients and gRPC watchers).
	Subscribers prometheus.Gauge
	// Events counts published events by type.
	Events *prometheus.CounterVec
	// Dropped counts subscribers cut off because they fell behind.
	Dropped prometheus.Counter
}

// NewMetrics creates and registers the registry metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loco_broker_instances", Help: "Instances by registry state.",
		}, []string{"state"}),
		Untrusted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loco_broker_untrusted_agents", Help: "Attached agents whose instance discovery does not know.",
		}),
		Subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loco_broker_event_subscribers", Help: "Open registry subscriptions (SSE clients, gRPC watchers).",
		}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loco_broker_events_total", Help: "Registry events published, by type.",
		}, []string{"type"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loco_broker_event_subscribers_dropped_total", Help: "Subscribers cut off because they fell behind.",
		}),
	}
	reg.MustRegister(m.Instances, m.Untrusted, m.Subscribers, m.Events, m.Dropped)
	return m
}

// updateGauges refreshes the gauges that are not counted incrementally. Must hold r.mu.
func (r *Registry) updateGauges() {
	if m := r.cfg.Metrics; m != nil {
		m.Untrusted.Set(float64(r.untrusted))
		m.Subscribers.Set(float64(len(r.feeds)))
	}
}

// countState moves the instances-by-state gauge. Must hold r.mu.
func (r *Registry) countState(s locov1.InstanceState, delta float64) {
	m := r.cfg.Metrics
	if m == nil || s == locov1.InstanceState_INSTANCE_STATE_UNSPECIFIED || s == locov1.InstanceState_INSTANCE_STATE_GONE {
		return
	}
	m.Instances.WithLabelValues(s.String()).Add(delta)
}
