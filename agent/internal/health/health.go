// Package health turns the agent's measured figures into a verdict once a second and publishes it: as a
// loco.v1.HealthReport ([Monitor.Latest], sent up the broker's Attach stream), as grpc.health.v1 status, on
// GET /healthz and as Prometheus metrics on GET /metrics.
//
// Nothing is assumed: every figure comes from a [Source] that measured it (the instance's media path, the QEMU
// supervisor). The verdict:
//   - UNHEALTHY when VNC is not connected, no frame arrived yet, the screen is black for longer than BlackAfter, the
//     picture is frozen (unchanged for longer than the instance's frozen limit), or a supervised QEMU is not running;
//   - DEGRADED when encoding is slow (p95 above 50 ms), audio is expected but silent of packets, or a viewer reports
//     more than 10 % loss, for Config.DegradeAfter reports in a row;
//   - HEALTHY otherwise. Reasons explain every non-healthy verdict in one short sentence each.
//
// grpc.health.v1: the overall service ("") is SERVING only while VNC is connected and frames flow (readiness);
// the service "live" is SERVING while the agent runs (liveness: a QEMU that is restarting is not a reason to kill
// the pod). GET /healthz answers 200 with the report as JSON when the overall service is SERVING and 503 otherwise.
package health

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// LiveService is the grpc.health.v1 service name that is SERVING while the agent runs.
const LiveService = "live"

// Figures are one second's measurements. A Source fills in what it measures.
type Figures struct {
	VNCConnected bool
	VNCFPS       float64
	EncodedFPS   float64
	// HaveFrame is true once the framebuffer has a size.
	HaveFrame   bool
	SinceChange time.Duration
	Black       bool
	Frozen      bool
	Width       int
	Height      int
	GuestBPP    int

	// AudioExpected is true when the agent should be capturing audio; AudioRunning when the pipeline runs.
	AudioExpected, AudioRunning bool
	AudioPackets                uint64 // Opus packets produced since the start
	AudioRMSdBFS                float64

	EncodeMean, EncodeP95 time.Duration
	TargetBps             int
	SentBps               uint64
	Viewers               int
	RTTms, Loss           float64

	// Supervised is true when the agent runs QEMU; QEMU and QEMURestarts are then meaningful.
	Supervised   bool
	QEMU         locov1.QemuState
	QEMURestarts uint32

	// Loss recovery since the agent started: keyframe requests (PLI, FIR) and NACKs received, the packets the
	// NACKs asked for, and the packets sent again (RTX copies included).
	PLIs, FIRs, NACKs, NACKedPackets, Retransmitted uint64

	// InputRejected counts refused input messages by reason ("malformed", "unknown_key", "spectator").
	InputRejected map[string]uint64
	InputInjected uint64
}

// Source fills in the figures it measures.
type Source func(*Figures)

// Config configures a [Monitor].
type Config struct {
	// Interval between reports (default 1 s).
	Interval time.Duration
	// BlackAfter is how long a black screen is tolerated (a booting guest is black for a while; default 60 s).
	BlackAfter time.Duration
	// DegradeAfter is how many consecutive reports an impairment (slow encoding, an audio gap, loss) must persist
	// before the verdict turns DEGRADED (default 3). One slow second on a busy node is not worth alarming anyone
	// or flapping the UI's badge; a lasting impairment is.
	DegradeAfter int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Monitor measures, judges and publishes health.
type Monitor struct {
	cfg     Config
	sources []Source
	grpc    *health.Server
	metrics *metrics

	mu         sync.Mutex
	latest     *locov1.HealthReport
	figures    Figures
	serving    bool
	blackSince time.Time
	lastAudio  uint64
	// impairedStreak counts consecutive reports with at least one impairment (see Config.DegradeAfter).
	impairedStreak int
	subs           []chan *locov1.HealthReport
}

// New returns a monitor over the sources.
func New(cfg Config, sources ...Source) *Monitor {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.BlackAfter <= 0 {
		cfg.BlackAfter = 60 * time.Second
	}
	if cfg.DegradeAfter <= 0 {
		cfg.DegradeAfter = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Monitor{cfg: cfg, sources: sources, grpc: health.NewServer()}
	m.grpc.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	m.grpc.SetServingStatus(LiveService, healthpb.HealthCheckResponse_SERVING)
	m.metrics = newMetrics(m)
	return m
}

// GRPC returns the grpc.health.v1 server to register.
func (m *Monitor) GRPC() *health.Server { return m.grpc }

// Run measures every Interval until ctx is done, then marks everything NOT_SERVING.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	m.Measure(time.Now())
	for {
		select {
		case <-ctx.Done():
			m.grpc.Shutdown()
			return ctx.Err()
		case now := <-t.C:
			m.Measure(now)
		}
	}
}

// Measure collects the figures, judges them and publishes the report.
func (m *Monitor) Measure(now time.Time) *locov1.HealthReport {
	var f Figures
	for _, s := range m.sources {
		s(&f)
	}
	m.mu.Lock()
	if f.Black && f.HaveFrame {
		if m.blackSince.IsZero() {
			m.blackSince = now
		}
	} else {
		m.blackSince = time.Time{}
	}
	audioNew := f.AudioPackets - min(m.lastAudio, f.AudioPackets)
	m.lastAudio = f.AudioPackets
	rep := m.judge(f, now, audioNew)
	serving := f.VNCConnected && f.HaveFrame && f.EncodedFPS > 0
	changed := serving != m.serving
	m.latest, m.figures, m.serving = rep, f, serving
	subs := append([]chan *locov1.HealthReport(nil), m.subs...)
	m.mu.Unlock()
	if changed {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if serving {
			st = healthpb.HealthCheckResponse_SERVING
		}
		m.grpc.SetServingStatus("", st)
		m.cfg.Logger.Info("serving status", "serving", serving, "verdict", rep.GetVerdict().String(),
			"reasons", rep.GetReasons())
	}
	for _, c := range subs {
		select {
		case c <- rep:
		default:
		}
	}
	return rep
}

func (m *Monitor) judge(f Figures, now time.Time, audioNew uint64) *locov1.HealthReport {
	rep := &locov1.HealthReport{
		MeasuredAt:         timestamppb.New(now),
		VncConnected:       f.VNCConnected,
		VncFps:             f.VNCFPS,
		EncodedFps:         f.EncodedFPS,
		SecondsSinceChange: f.SinceChange.Seconds(),
		ScreenMode:         &locov1.ScreenMode{Width: uint32(f.Width), Height: uint32(f.Height), GuestBpp: uint32(f.GuestBPP)},
		AudioRmsDbfs:       f.AudioRMSdBFS,
		EncodeMsMean:       ms(f.EncodeMean),
		EncodeMsP95:        ms(f.EncodeP95),
		VideoTargetBps:     uint64(max(f.TargetBps, 0)),
		SentBps:            f.SentBps,
		Viewers:            uint32(f.Viewers),
		RttMs:              f.RTTms,
		LossFraction:       f.Loss,
		QemuRestarts:       f.QEMURestarts,
	}
	if !f.AudioRunning {
		rep.AudioRmsDbfs = -100
	}
	if f.Supervised {
		rep.Qemu = f.QEMU
	}
	for _, n := range f.InputRejected {
		rep.InputRejected += n
	}
	switch {
	case !f.HaveFrame:
		rep.Screen = locov1.ScreenVerdict_SCREEN_VERDICT_UNSPECIFIED
	case f.Black:
		rep.Screen = locov1.ScreenVerdict_SCREEN_VERDICT_BLACK
	case f.Frozen:
		rep.Screen = locov1.ScreenVerdict_SCREEN_VERDICT_FROZEN
	default:
		rep.Screen = locov1.ScreenVerdict_SCREEN_VERDICT_OK
	}
	var bad, impaired []string
	if f.Supervised && f.QEMU != locov1.QemuState_QEMU_STATE_RUNNING {
		bad = append(bad, "QEMU is not running ("+qemuName(f.QEMU)+")")
	}
	if !f.VNCConnected {
		bad = append(bad, "VNC is not connected")
	} else if !f.HaveFrame {
		bad = append(bad, "no framebuffer from VNC yet")
	}
	if f.HaveFrame && f.Black && !m.blackSince.IsZero() && now.Sub(m.blackSince) >= m.cfg.BlackAfter {
		bad = append(bad, fmt.Sprintf("black screen for %.0fs", now.Sub(m.blackSince).Seconds()))
	}
	if f.HaveFrame && f.Frozen {
		bad = append(bad, fmt.Sprintf("screen unchanged for %.0fs", f.SinceChange.Seconds()))
	}
	if f.EncodeP95 > 50*time.Millisecond {
		impaired = append(impaired, fmt.Sprintf("slow encoding: p95 %.0f ms per frame", ms(f.EncodeP95)))
	}
	if f.AudioExpected && !f.AudioRunning {
		impaired = append(impaired, "audio pipeline not running")
	} else if f.AudioExpected && audioNew == 0 {
		impaired = append(impaired, "no audio packets in the last interval")
	}
	if f.Loss > 0.1 {
		impaired = append(impaired, fmt.Sprintf("a viewer reports %.0f%% packet loss", f.Loss*100))
	}
	if len(impaired) > 0 {
		m.impairedStreak++
	} else {
		m.impairedStreak = 0
	}
	if m.impairedStreak < m.cfg.DegradeAfter {
		impaired = nil // not lasting yet
	}
	switch {
	case len(bad) > 0:
		rep.Verdict = locov1.Verdict_VERDICT_UNHEALTHY
	case len(impaired) > 0:
		rep.Verdict = locov1.Verdict_VERDICT_DEGRADED
	default:
		rep.Verdict = locov1.Verdict_VERDICT_HEALTHY
	}
	rep.Reasons = append(bad, impaired...)
	return rep
}

func qemuName(s locov1.QemuState) string {
	switch s {
	case locov1.QemuState_QEMU_STATE_STARTING:
		return "starting"
	case locov1.QemuState_QEMU_STATE_EXITED:
		return "exited"
	case locov1.QemuState_QEMU_STATE_STOPPING:
		return "stopping"
	case locov1.QemuState_QEMU_STATE_RUNNING:
		return "running"
	}
	return "unknown"
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Latest returns the latest report (nil before the first measurement). The caller must not modify it.
func (m *Monitor) Latest() *locov1.HealthReport {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.latest
}

// Serving reports whether VNC is connected and frames flow.
func (m *Monitor) Serving() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.serving
}

// Subscribe returns a channel receiving every new report (the latest one wins when the reader is slow) and a
// function to unsubscribe.
func (m *Monitor) Subscribe() (<-chan *locov1.HealthReport, func()) {
	c := make(chan *locov1.HealthReport, 1)
	m.mu.Lock()
	m.subs = append(m.subs, c)
	m.mu.Unlock()
	return c, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for i, s := range m.subs {
			if s == c {
				m.subs = append(m.subs[:i], m.subs[i+1:]...)
				return
			}
		}
	}
}

// HealthzHandler serves GET /healthz: 200 and the report as JSON while serving, 503 otherwise.
func (m *Monitor) HealthzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		m.mu.Lock()
		rep, serving := m.latest, m.serving
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !serving {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		if rep == nil {
			rep = &locov1.HealthReport{Reasons: []string{"not measured yet"}}
		}
		b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(proto.Clone(rep))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(append(b, '\n'))
	})
}

// MetricsHandler serves GET /metrics in the Prometheus text format.
func (m *Monitor) MetricsHandler() http.Handler { return m.metrics.handler() }
