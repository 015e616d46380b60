package signaling

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
)

// Metrics are the signaling metrics.
type Metrics struct {
	// Offers counts WHEP offers by result.
	Offers *prometheus.CounterVec
	// AnswerSeconds is the time from offer to answer (successful offers).
	AnswerSeconds prometheus.Histogram
	// Sessions is the number of sessions the broker remembers.
	Sessions prometheus.Gauge
}

// NewMetrics creates and registers the signaling metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loco_broker_whep_offers_total", Help: "WHEP offers by result.",
		}, []string{"result"}),
		AnswerSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "loco_broker_whep_answer_seconds", Help: "Time from a WHEP offer to the agent's answer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		Sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loco_broker_whep_sessions", Help: "WHEP sessions the broker remembers.",
		}),
	}
	reg.MustRegister(m.Offers, m.AnswerSeconds, m.Sessions)
	return m
}

func (m *Metrics) observe(err error, d time.Duration) {
	var ae *agentlink.AgentError
	result := "answered"
	switch {
	case err == nil:
		m.AnswerSeconds.Observe(d.Seconds())
	case errors.Is(err, ErrUnknownInstance):
		result = "unknown_instance"
	case errors.Is(err, ErrNotAttached):
		result = "not_attached"
	case errors.Is(err, ErrBadOffer), errors.Is(err, ErrOfferTooLarge):
		result = "bad_offer"
	case errors.Is(err, ErrAnswerTimeout):
		result = "timeout"
	case errors.As(err, &ae):
		result = "agent_error"
	default:
		result = "error"
	}
	m.Offers.WithLabelValues(result).Inc()
}
