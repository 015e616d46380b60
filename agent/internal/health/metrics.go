package health

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// metrics exposes the latest measurement as Prometheus metrics (loco_agent_*), read at scrape time.
type metrics struct {
	m   *Monitor
	reg *prometheus.Registry
}

type desc struct {
	d   *prometheus.Desc
	typ prometheus.ValueType
	get func(f *Figures, r *locov1.HealthReport) float64
}

func gauge(name, help string, get func(f *Figures, r *locov1.HealthReport) float64) desc {
	return desc{d: prometheus.NewDesc("loco_agent_"+name, help, nil, nil), typ: prometheus.GaugeValue, get: get}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var descs = []desc{
	gauge("vnc_connected", "1 while the RFB connection is up.", func(f *Figures, _ *locov1.HealthReport) float64 { return b2f(f.VNCConnected) }),
	gauge("vnc_fps", "Framebuffer updates received per second.", func(f *Figures, _ *locov1.HealthReport) float64 { return f.VNCFPS }),
	gauge("encoded_fps", "Frames handed to the video encoder per second.", func(f *Figures, _ *locov1.HealthReport) float64 { return f.EncodedFPS }),
	gauge("seconds_since_change", "Seconds since the picture last changed.", func(f *Figures, _ *locov1.HealthReport) float64 { return f.SinceChange.Seconds() }),
	gauge("screen_black", "1 when the screen is black.", func(f *Figures, _ *locov1.HealthReport) float64 { return b2f(f.Black) }),
	gauge("screen_frozen", "1 when the screen is frozen.", func(f *Figures, _ *locov1.HealthReport) float64 { return b2f(f.Frozen) }),
	gauge("screen_width", "Guest screen width in pixels.", func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.Width) }),
	gauge("screen_height", "Guest screen height in pixels.", func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.Height) }),
	gauge("audio_rms_dbfs", "Audio RMS level at the Opus encoder input, dBFS.", func(_ *Figures, r *locov1.HealthReport) float64 { return r.GetAudioRmsDbfs() }),
	gauge("encode_ms_mean", "Mean video encode time per frame, ms.", func(_ *Figures, r *locov1.HealthReport) float64 { return r.GetEncodeMsMean() }),
	gauge("encode_ms_p95", "95th percentile video encode time per frame, ms.", func(_ *Figures, r *locov1.HealthReport) float64 { return r.GetEncodeMsP95() }),
	gauge("video_target_bps", "Video encoder target bitrate, bits/s.", func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.TargetBps) }),
	gauge("sent_bps", "Media bits per second sent to all viewers.", func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.SentBps) }),
	gauge("viewers", "Connected viewers.", func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.Viewers) }),
	gauge("rtt_ms", "Mean RTT from RTCP receiver reports, ms.", func(f *Figures, _ *locov1.HealthReport) float64 { return f.RTTms }),
	gauge("loss_fraction", "Worst reported loss fraction.", func(f *Figures, _ *locov1.HealthReport) float64 { return f.Loss }),
	gauge("qemu_state", "Supervised QEMU state (loco.v1.QemuState number; 0 unsupervised).", func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.QEMU) }),
	gauge("verdict", "Health verdict (loco.v1.Verdict number: 1 healthy, 2 degraded, 3 unhealthy).", func(_ *Figures, r *locov1.HealthReport) float64 { return float64(r.GetVerdict()) }),
	{d: prometheus.NewDesc("loco_agent_qemu_restarts_total", "QEMU restarts since the agent started.", nil, nil),
		typ: prometheus.CounterValue, get: func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.QEMURestarts) }},
	{d: prometheus.NewDesc("loco_agent_audio_packets_total", "Opus packets produced.", nil, nil),
		typ: prometheus.CounterValue, get: func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.AudioPackets) }},
	{d: prometheus.NewDesc("loco_agent_input_injected_total", "Input events injected into VNC.", nil, nil),
		typ: prometheus.CounterValue, get: func(f *Figures, _ *locov1.HealthReport) float64 { return float64(f.InputInjected) }},
	counter("pli_total", "Picture loss indications received from viewers.", func(f *Figures) uint64 { return f.PLIs }),
	counter("fir_total", "Full intra requests received from viewers.", func(f *Figures) uint64 { return f.FIRs }),
	counter("nack_total", "NACK messages received from viewers.", func(f *Figures) uint64 { return f.NACKs }),
	counter("nacked_packets_total", "Video packets viewers asked for again.", func(f *Figures) uint64 { return f.NACKedPackets }),
	counter("retransmitted_packets_total", "Video packets sent again (RTX copies included).", func(f *Figures) uint64 { return f.Retransmitted }),
}

// counter describes a counter read from the figures.
func counter(name, help string, get func(f *Figures) uint64) desc {
	return desc{d: prometheus.NewDesc("loco_agent_"+name, help, nil, nil), typ: prometheus.CounterValue,
		get: func(f *Figures, _ *locov1.HealthReport) float64 { return float64(get(f)) }}
}

var rejectedDesc = prometheus.NewDesc("loco_agent_input_rejected_total", "Input messages dropped, by reason.",
	[]string{"reason"}, nil)

func newMetrics(m *Monitor) *metrics {
	reg := prometheus.NewRegistry()
	x := &metrics{m: m, reg: reg}
	reg.MustRegister(x, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return x
}

// Describe implements prometheus.Collector.
func (x *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d.d
	}
	ch <- rejectedDesc
}

// Collect implements prometheus.Collector.
func (x *metrics) Collect(ch chan<- prometheus.Metric) {
	x.m.mu.Lock()
	f, r := x.m.figures, x.m.latest
	x.m.mu.Unlock()
	if r == nil {
		return
	}
	for _, d := range descs {
		ch <- prometheus.MustNewConstMetric(d.d, d.typ, d.get(&f, r))
	}
	for _, reason := range []string{"malformed", "unknown_key", "spectator"} {
		ch <- prometheus.MustNewConstMetric(rejectedDesc, prometheus.CounterValue, float64(f.InputRejected[reason]),
			reason)
	}
}

func (x *metrics) handler() http.Handler {
	return promhttp.HandlerFor(x.reg, promhttp.HandlerOpts{})
}
