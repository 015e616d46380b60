package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/pulse"
	"github.com/loco-cluster/loco/agent/internal/rfb"
	"github.com/loco-cluster/loco/hack/guest"
	"github.com/loco-cluster/loco/hack/guest/strip"
)

// guestDir builds the demo guest with hack/guest/build (a no-op when the cache has it) and returns its directory.
func guestDir(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := guest.Build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// demoInstance is a supervised demo guest with its PulseAudio and an rfb client on its VNC socket.
type demoInstance struct {
	sup    *Supervisor
	pa     *pulse.Server
	vnc    *rfb.Client
	fb     *capture.Framebuffer
	runErr chan error
	cancel context.CancelFunc
}

func startDemo(t testing.TB, name string, mod func(*Config)) *demoInstance {
	t.Helper()
	gd := guestDir(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	pa, err := pulse.Start(ctx, pulse.Config{Dir: filepath.Join(dir, "pulse")})
	if err != nil {
		cancel()
		t.Fatalf("pulse: %v", err)
	}
	cfg := Config{Profile: ProfileDemo, Name: name, StateDir: filepath.Join(dir, "qemu"), GuestDir: gd,
		AudioServer: pa.Address(), Accel: "auto", GracePeriod: 20 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	sup, err := New(cfg)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	in := &demoInstance{sup: sup, pa: pa, fb: &capture.Framebuffer{}, runErr: make(chan error, 1), cancel: cancel}
	go func() { in.runErr <- sup.Run(ctx) }()
	in.vnc = rfb.New(rfb.Config{Addr: sup.VNCAddress(), Framebuffer: in.fb, MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 500 * time.Millisecond})
	vncCtx, vncCancel := context.WithCancel(ctx)
	vncDone := make(chan struct{})
	go func() { _ = in.vnc.Run(vncCtx); close(vncDone) }()
	t.Cleanup(func() {
		vncCancel()
		<-vncDone
		in.stop(t)
		_ = pa.Stop()
	})
	return in
}

// stop ends the supervisor (power down) and waits for Run to return.
func (in *demoInstance) stop(t testing.TB) {
	in.cancel()
	select {
	case err := <-in.runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		in.runErr <- err // keep it for a second call
	case <-time.After(60 * time.Second):
		t.Errorf("supervisor did not stop within 60 s")
	}
}

// state decodes the strip from the current framebuffer.
func (in *demoInstance) state() (strip.State, error) {
	var st strip.State
	err := strip.ErrTooSmall
	var fr capture.Frame
	in.fb.Peek(&fr, func(f *capture.Frame) {
		st, err = strip.DecodeFunc(func(x, y int) uint8 {
			p := f.Pix[y*f.Stride+4*x:]
			return uint8((114*int(p[0]) + 587*int(p[1]) + 299*int(p[2])) / 1000)
		}, f.Width, f.Height)
	})
	return st, err
}

// waitState waits until the guest's strip satisfies ok and returns it.
func (in *demoInstance) waitState(t testing.TB, what string, timeout time.Duration, ok func(strip.State) bool) strip.State {
	t.Helper()
	// A TCG guest on a shared, loaded 2-core machine can be far slower than on a quiet one: give every wait at least
	// a minute (it returns as soon as the state is there).
	timeout = max(timeout, time.Minute)
	deadline := time.Now().Add(timeout)
	var last strip.State
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := in.state()
		if err == nil && ok(st) {
			return st
		}
		if err == nil {
			last = st
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not seen within %s (last state %+v, last error %v, qemu %+v)", what, timeout, last, lastErr, in.sup.Status())
	return last
}

// settled waits until the guest's pointer has not moved for 300 ms (every motion sent has arrived) and returns
// the state.
func (in *demoInstance) settled(t testing.TB) strip.State {
	t.Helper()
	var last strip.State
	since := time.Now()
	deadline := since.Add(time.Minute)
	for time.Now().Before(deadline) {
		st, err := in.state()
		if err == nil && (st.X != last.X || st.Y != last.Y) {
			last, since = st, time.Now()
		}
		if err == nil && time.Since(since) > 300*time.Millisecond {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pointer still moving after a minute (%+v)", last)
	return last
}

// recorder records the PulseAudio monitor with parec.
type recorder struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	buf  bytes.Buffer
	rate int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func record(t testing.TB, pa *pulse.Server) *recorder {
	t.Helper()
	r := &recorder{rate: 48000}
	r.cmd = exec.Command("parec", "--device="+pa.MonitorSource(), "--latency-msec=20", "--raw",
		"--format=s16le", "--rate=48000", "--channels=1")
	r.cmd.Env = []string{"PULSE_SERVER=" + pa.Address()}
	r.cmd.Stdout = r
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("parec: %v", err)
	}
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *recorder) stop() {
	if r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		_ = r.cmd.Wait()
	}
}

// samples returns what was recorded so far, from sample offset from on.
func (r *recorder) samples(from int) []float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.buf.Bytes()
	var out []float64
	for i := 2 * from; i+1 < len(b); i += 2 {
		out = append(out, float64(int16(binary.LittleEndian.Uint16(b[i:])))/32768)
	}
	return out
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Len() / 2
}

// toneLevel returns the highest amplitude of frequency f (Goertzel) over windows of 10 ms, and the highest
// overall RMS of a window.
func toneLevel(x []float64, rate int, f float64) (tone, rms float64) {
	n := rate / 100
	k := 2 * math.Cos(2*math.Pi*f/float64(rate))
	for start := 0; start+n <= len(x); start += n / 2 {
		var s1, s2, sq float64
		for _, v := range x[start : start+n] {
			s1, s2 = v+k*s1-s2, s1
			sq += v * v
		}
		power := s1*s1 + s2*s2 - k*s1*s2
		tone = math.Max(tone, 2*math.Sqrt(power)/float64(n))
		rms = math.Max(rms, math.Sqrt(sq/float64(n)))
	}
	return tone, rms
}

var errNoPID = errors.New("no qemu pid")

// cpuSeconds returns the user+system CPU time of pid so far.
func cpuSeconds(pid int) (float64, error) {
	if pid == 0 {
		return 0, errNoPID
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	// Fields after "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, err1 := strconv.ParseFloat(fields[11], 64)
	st, err2 := strconv.ParseFloat(fields[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}
