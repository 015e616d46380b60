package recovery

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the recovery metrics.
type Metrics struct {
	// Restarts counts restarts by mode (on, dry-run, manual) and result (ok, error).
	Restarts *prometheus.CounterVec
	// Skipped counts restarts held back, by reason.
	Skipped *prometheus.CounterVec
}

// NewMetrics creates and registers the recovery metrics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loco_broker_recovery_restarts_total", Help: "Instance restarts by mode and result.",
		}, []string{"mode", "result"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loco_broker_recovery_skipped_total", Help: "Restarts held back, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.Restarts, m.Skipped)
	return m
}

func (m *Metrics) count(mode string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.Restarts.WithLabelValues(mode, result).Inc()
}

func (m *Metrics) skip(reason string) {
	if m != nil {
		m.Skipped.WithLabelValues(reason).Inc()
	}
}
