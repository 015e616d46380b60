package health

import (
	"context"
	"io"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

func good() Figures {
	return Figures{VNCConnected: true, VNCFPS: 30, EncodedFPS: 30, HaveFrame: true, Width: 800, Height: 600,
		EncodeMean: 3 * time.Millisecond, EncodeP95: 6 * time.Millisecond}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Figures)
		verdict locov1.Verdict
		reason  string
	}{
		{"healthy", func(*Figures) {}, locov1.Verdict_VERDICT_HEALTHY, ""},
		{"vnc down", func(f *Figures) { f.VNCConnected = false }, locov1.Verdict_VERDICT_UNHEALTHY, "VNC is not connected"},
		{"no frame", func(f *Figures) { f.HaveFrame = false }, locov1.Verdict_VERDICT_UNHEALTHY, "no framebuffer"},
		{"frozen", func(f *Figures) { f.Frozen, f.SinceChange = true, 200*time.Second }, locov1.Verdict_VERDICT_UNHEALTHY, "screen unchanged for 200s"},
		{"qemu exited", func(f *Figures) { f.Supervised, f.QEMU = true, locov1.QemuState_QEMU_STATE_EXITED }, locov1.Verdict_VERDICT_UNHEALTHY, "QEMU is not running (exited)"},
		{"qemu running", func(f *Figures) { f.Supervised, f.QEMU = true, locov1.QemuState_QEMU_STATE_RUNNING }, locov1.Verdict_VERDICT_HEALTHY, ""},
		{"slow encoder", func(f *Figures) { f.EncodeP95 = 80 * time.Millisecond }, locov1.Verdict_VERDICT_DEGRADED, "slow encoding"},
		{"no audio pipeline", func(f *Figures) { f.AudioExpected = true }, locov1.Verdict_VERDICT_DEGRADED, "audio pipeline not running"},
		{"loss", func(f *Figures) { f.Loss = 0.2 }, locov1.Verdict_VERDICT_DEGRADED, "20% packet loss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good()
			tt.mutate(&f)
			m := New(Config{DegradeAfter: 1}, func(out *Figures) { *out = f })
			rep := m.Measure(time.Now())
			if rep.GetVerdict() != tt.verdict {
				t.Fatalf("verdict %v, want %v (reasons %v)", rep.GetVerdict(), tt.verdict, rep.GetReasons())
			}
			if tt.reason == "" && len(rep.GetReasons()) != 0 {
				t.Fatalf("reasons %v for a healthy verdict", rep.GetReasons())
			}
			if tt.reason != "" && !slices.ContainsFunc(rep.GetReasons(), func(r string) bool { return strings.Contains(r, tt.reason) }) {
				t.Fatalf("reasons %v lack %q", rep.GetReasons(), tt.reason)
			}
		})
	}
}

func TestBlackScreenNeedsTime(t *testing.T) {
	f := good()
	f.Black = true
	m := New(Config{BlackAfter: 10 * time.Second}, func(out *Figures) { *out = f })
	t0 := time.Now()
	if rep := m.Measure(t0); rep.GetVerdict() != locov1.Verdict_VERDICT_HEALTHY || rep.GetScreen() != locov1.ScreenVerdict_SCREEN_VERDICT_BLACK {
		t.Fatalf("fresh black screen: %v %v %v", rep.GetVerdict(), rep.GetScreen(), rep.GetReasons())
	}
	if rep := m.Measure(t0.Add(11 * time.Second)); rep.GetVerdict() != locov1.Verdict_VERDICT_UNHEALTHY {
		t.Fatalf("black for 11 s: %v %v", rep.GetVerdict(), rep.GetReasons())
	}
	f.Black = false
	if rep := m.Measure(t0.Add(12 * time.Second)); rep.GetVerdict() != locov1.Verdict_VERDICT_HEALTHY {
		t.Fatalf("picture back: %v %v", rep.GetVerdict(), rep.GetReasons())
	}
}

func TestAudioPacketsMustFlow(t *testing.T) {
	f := good()
	f.AudioExpected, f.AudioRunning, f.AudioPackets, f.AudioRMSdBFS = true, true, 100, -20
	m := New(Config{DegradeAfter: 1}, func(out *Figures) { *out = f })
	if rep := m.Measure(time.Now()); rep.GetVerdict() != locov1.Verdict_VERDICT_HEALTHY || rep.GetAudioRmsDbfs() != -20 {
		t.Fatalf("%v %v %v", rep.GetVerdict(), rep.GetReasons(), rep.GetAudioRmsDbfs())
	}
	if rep := m.Measure(time.Now()); rep.GetVerdict() != locov1.Verdict_VERDICT_DEGRADED {
		t.Fatalf("no new audio packets: %v %v", rep.GetVerdict(), rep.GetReasons())
	}
}

// TestDegradedNeedsPersistence: one impaired second (a busy node) leaves the verdict healthy; an impairment that
// lasts DegradeAfter reports turns it DEGRADED, and it is healthy again as soon as the impairment ends.
func TestDegradedNeedsPersistence(t *testing.T) {
	f := good()
	m := New(Config{DegradeAfter: 3}, func(out *Figures) { *out = f })
	now := time.Now()
	f.EncodeP95 = 80 * time.Millisecond
	for i := 1; i <= 2; i++ {
		if rep := m.Measure(now); rep.GetVerdict() != locov1.Verdict_VERDICT_HEALTHY || len(rep.GetReasons()) != 0 {
			t.Fatalf("impaired report %d: %v %v, want healthy until the impairment lasts", i, rep.GetVerdict(), rep.GetReasons())
		}
	}
	if rep := m.Measure(now); rep.GetVerdict() != locov1.Verdict_VERDICT_DEGRADED {
		t.Fatalf("third impaired report: %v %v, want degraded", rep.GetVerdict(), rep.GetReasons())
	}
	f.EncodeP95 = 5 * time.Millisecond
	if rep := m.Measure(now); rep.GetVerdict() != locov1.Verdict_VERDICT_HEALTHY {
		t.Fatalf("impairment over: %v %v", rep.GetVerdict(), rep.GetReasons())
	}
	f.EncodeP95 = 80 * time.Millisecond
	if rep := m.Measure(now); rep.GetVerdict() != locov1.Verdict_VERDICT_HEALTHY {
		t.Fatalf("a new single impaired report must not degrade at once: %v %v", rep.GetVerdict(), rep.GetReasons())
	}
}

func TestServingEndpoints(t *testing.T) {
	f := good()
	f.VNCConnected = false
	f.InputRejected = map[string]uint64{"spectator": 3}
	f.NACKs, f.Retransmitted = 4, 17
	m := New(Config{}, func(out *Figures) { *out = f })

	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, m.GRPC())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	get := func(path string) (int, string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h := m.HealthzHandler()
		if path == "/metrics" {
			h = m.MetricsHandler()
		}
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}

	m.Measure(time.Now())
	if s := check(""); s != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("VNC down: %v", s)
	}
	if s := check(LiveService); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("live: %v", s)
	}
	if code, body := get("/healthz"); code != 503 || !strings.Contains(body, "VNC is not connected") {
		t.Fatalf("/healthz %d %s", code, body)
	}
	f.VNCConnected = true
	m.Measure(time.Now())
	if s := check(""); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("frames flow: %v", s)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"VERDICT_HEALTHY"`) {
		t.Fatalf("/healthz %d %s", code, body)
	}
	code, body := get("/metrics")
	for _, want := range []string{"loco_agent_vnc_fps 30", "loco_agent_verdict 1", `loco_agent_input_rejected_total{reason="spectator"} 3`,
		"loco_agent_nack_total 4", "loco_agent_retransmitted_packets_total 17"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics %d lacks %q:\n%s", code, want, body)
		}
	}
}
