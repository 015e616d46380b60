package pulse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func startServer(t *testing.T, ctx context.Context) *Server {
	t.Helper()
	s, err := Start(ctx, Config{Dir: filepath.Join(t.TempDir(), "pulse")})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func pactl(t *testing.T, s *Server, args ...string) string {
	t.Helper()
	cmd := exec.Command("pactl", args...)
	cmd.Env = []string{"PULSE_SERVER=" + s.Address()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pactl %v: %v: %s", args, err, out)
	}
	return string(out)
}

// TestPlaysIntoMonitor plays a tone into the null sink with pacat and records it from the monitor with parec.
func TestPlaysIntoMonitor(t *testing.T) {
	s := startServer(t, context.Background())
	if mods := pactl(t, s, "list", "short", "modules"); strings.Contains(mods, "suspend-on-idle") {
		t.Fatalf("module-suspend-on-idle is loaded:\n%s", mods)
	}
	if srcs := pactl(t, s, "list", "short", "sources"); !strings.Contains(srcs, s.MonitorSource()) {
		t.Fatalf("no source %s:\n%s", s.MonitorSource(), srcs)
	}

	rec := exec.Command("parec", "--device="+s.MonitorSource(), "--latency-msec=20", "--raw", "--format=s16le", "--rate=48000", "--channels=1")
	rec.Env = []string{"PULSE_SERVER=" + s.Address()}
	var recorded bytes.Buffer
	rec.Stdout = &recorded
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	tone := make([]byte, 2*48000/2) // 0.5 s of 440 Hz
	for i := range len(tone) / 2 {
		binary.LittleEndian.PutUint16(tone[2*i:], uint16(int16(12000*math.Sin(2*math.Pi*440*float64(i)/48000))))
	}
	play := exec.Command("pacat", "--device="+s.Sink(), "--raw", "--format=s16le", "--rate=48000", "--channels=1")
	play.Env = []string{"PULSE_SERVER=" + s.Address()}
	play.Stdin = bytes.NewReader(tone)
	if out, err := play.CombinedOutput(); err != nil {
		t.Fatalf("pacat: %v: %s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	_ = rec.Process.Signal(syscall.SIGTERM)
	_ = rec.Wait()

	peak := 0
	for i := 0; i+1 < recorded.Len(); i += 2 {
		v := int(int16(binary.LittleEndian.Uint16(recorded.Bytes()[i:])))
		peak = max(peak, v, -v)
	}
	if peak < 6000 {
		t.Fatalf("monitor recorded %d bytes with peak %d; want the tone (peak ~12000)", recorded.Len(), peak)
	}
}

func TestStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := startServer(t, ctx)
	pid := s.cmd.Process.Pid
	cancel()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("daemon still running 10 s after the context ended")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("pid %d still exists: %v", pid, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop after exit: %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	if _, err := Start(context.Background(), Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("no Dir: %v, want ErrConfig", err)
	}
	if _, err := Start(context.Background(), Config{Dir: t.TempDir(), Sink: "a b"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad sink: %v, want ErrConfig", err)
	}
	_, err := Start(context.Background(), Config{Dir: t.TempDir(), Binary: "/nonexistent/pulseaudio"})
	if err == nil {
		t.Fatal("missing binary: no error")
	}
}
