package pulse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	recorded := &lockedBuffer{}
	rec.Stdout = recorded
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = rec.Process.Signal(syscall.SIGTERM)
		_ = rec.Wait()
	})
	// The monitor of a null sink without suspend-on-idle streams silence: once some arrived, parec is recording.
	waitFor(t, "parec recording the monitor", func() (bool, string) {
		return recorded.len() > 0, "nothing recorded"
	})
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
	waitFor(t, "the tone on the monitor (peak ~12000)", func() (bool, string) {
		b := recorded.bytes()
		peak := 0
		for i := 0; i+1 < len(b); i += 2 {
			v := int(int16(binary.LittleEndian.Uint16(b[i:])))
			peak = max(peak, v, -v)
		}
		return peak >= 6000, fmt.Sprintf("%d bytes recorded, peak %d", len(b), peak)
	})
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// waitFor polls ok until it holds, for up to a minute (processes on a loaded, shared machine), and fails with what
// ok last said.
func waitFor(t *testing.T, what string, ok func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var done bool
		if done, last = ok(); done {
			return
		}
	}
	t.Fatalf("%s: not within a minute (%s)", what, last)
}

func TestStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := startServer(t, ctx)
	pid := s.cmd.Process.Pid
	cancel()
	select {
	case <-s.Done():
	case <-time.After(time.Minute):
		t.Fatal("daemon still running a minute after the context ended")
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
