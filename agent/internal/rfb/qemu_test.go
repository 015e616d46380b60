package rfb

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// qemu is a real QEMU (TCG, no disk: SeaBIOS and the VGA text screen) with its VNC server on a unix socket and
// its input trace events on stderr.
type qemu struct {
	cmd  *exec.Cmd
	sock string
	mon  string // HMP monitor socket

	mu    sync.Mutex
	trace []string
	done  chan struct{}
}

func startQEMU(t *testing.T) *qemu {
	t.Helper()
	return startQEMUAt(t, filepath.Join(t.TempDir(), "vnc.sock"))
}

func startQEMUAt(t *testing.T, sock string, extra ...string) *qemu {
	t.Helper()
	q := &qemu{sock: sock, mon: sock + ".mon", done: make(chan struct{})}
	args := []string{"-accel", "tcg", "-display", "none", "-nodefaults", "-vga", "std",
		"-m", "64", "-vnc", "unix:" + q.sock, "-monitor", "unix:" + q.mon + ",server,nowait",
		"-trace", "input_event_*", "-trace", "vnc_key_event_ext"}
	q.cmd = exec.Command("qemu-system-x86_64", append(args, extra...)...)
	stderr, err := q.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := q.cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	go func() {
		defer close(q.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			q.mu.Lock()
			q.trace = append(q.trace, sc.Text())
			q.mu.Unlock()
		}
		_ = q.cmd.Wait()
	}()
	t.Cleanup(q.kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(q.sock); err == nil {
			return q
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu vnc socket %s did not appear; stderr: %s", q.sock, q.traceText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screendump asks QEMU for its own picture of the screen (HMP screendump, a binary PPM) and returns it as
// width, height and RGB bytes.
func (q *qemu) screendump(t *testing.T) (int, int, []byte) {
	t.Helper()
	path := filepath.Join(filepath.Dir(q.sock), fmt.Sprintf("dump-%d.ppm", time.Now().UnixNano()))
	conn, err := net.Dial("unix", q.mon)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "screendump %s\n", path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(path); err == nil {
			var w, h, maxv int
			n, err := fmt.Sscanf(string(data), "P6\n%d %d\n%d\n", &w, &h, &maxv)
			if n == 3 && err == nil {
				hdr := len(fmt.Sprintf("P6\n%d %d\n%d\n", w, h, maxv))
				if len(data) == hdr+w*h*3 {
					return w, h, data[hdr:]
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete screendump at %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// monitor sends one HMP command to QEMU's monitor.
func (q *qemu) monitor(t *testing.T, command string) {
	t.Helper()
	conn, err := net.Dial("unix", q.mon)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "%s\n", command); err != nil {
		t.Fatal(err)
	}
	// Wait for the monitor's prompt after the command, so the command has run when we return.
	buf := make([]byte, 4096)
	var seen strings.Builder
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for strings.Count(seen.String(), "(qemu)") < 2 {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("monitor %q: %v (read %q)", command, err, seen.String())
		}
		seen.Write(buf[:n])
	}
}

func (q *qemu) kill() {
	_ = q.cmd.Process.Kill()
	<-q.done
}

func (q *qemu) traceText() string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return strings.Join(q.trace, "\n")
}

// waitTrace waits until a trace line contains want.
func (q *qemu) waitTrace(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(q.traceText(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("qemu trace has no %q:\n%s", want, q.traceText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestQEMU(t *testing.T) {
	// Start paused (-S) and let the guest run only once the client is connected, so the client sees SeaBIOS's
	// switch to the 720x400 text mode as a DesktopSize however fast the machine boots.
	q := startQEMUAt(t, filepath.Join(t.TempDir(), "vnc.sock"), "-S")
	fb := &capture.Framebuffer{}
	c := New(Config{Addr: "unix:" + q.sock, Framebuffer: fb, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-runDone })

	waitFor(t, 20*time.Second, "connection and a first update", func() bool { return c.Stats().Updates > 0 })
	m := c.Mode()
	t.Logf("mode %+v, stats %+v", m, c.Stats())
	q.monitor(t, "cont")
	if m.Width < 640 || m.Height < 200 {
		t.Fatalf("mode %dx%d, want a VGA text or graphics mode", m.Width, m.Height)
	}
	if w, h := fb.Size(); w != m.Width || h != m.Height {
		t.Fatalf("framebuffer %dx%d, mode %dx%d", w, h, m.Width, m.Height)
	}
	waitFor(t, 10*time.Second, "QEMU's -257 (relative, no tablet) and -258 ack", func() bool { return c.Relative() && c.ExtendedKeys() })
	// SeaBIOS switches the VGA to its 720x400 text mode: the client follows the DesktopSize.
	waitFor(t, 20*time.Second, "the 720x400 text mode", func() bool {
		w, h := fb.Size()
		m := c.Mode()
		return w == 720 && h == 400 && m.Width == 720 && m.Height == 400
	})
	if c.Stats().Resizes == 0 {
		t.Fatal("no DesktopSize counted")
	}
	// The framebuffer is QEMU's own picture, pixel for pixel (retry: the text cursor blinks).
	var diff int
	waitFor(t, 20*time.Second, "the framebuffer to equal QEMU's screendump", func() bool {
		w, h, rgb := q.screendump(t)
		diff = 0
		var f capture.Frame
		fb.Peek(&f, func(f *capture.Frame) {
			if f.Width != w || f.Height != h {
				diff = -1
				return
			}
			for y := range h {
				for x := range w {
					p, o := f.Pix[y*f.Stride+x*4:], (y*w+x)*3
					if p[2] != rgb[o] || p[1] != rgb[o+1] || p[0] != rgb[o+2] {
						diff++
					}
				}
			}
		})
		return diff == 0
	})
	// The screen is not black: SeaBIOS prints its banner.
	waitFor(t, 20*time.Second, "text on the screen", func() bool { return !capture.NewMonitor(fb, capture.MonitorConfig{}).Check().Black })

	// Relative motion arrives in QEMU as exactly these deltas.
	if err := c.PointerRel(0, 7, -3); err != nil {
		t.Fatal(err)
	}
	q.waitTrace(t, "axis x, value 7")
	q.waitTrace(t, "axis y, value -3")
	if err := c.PointerRel(1, 0, 0); err != nil {
		t.Fatal(err)
	}
	q.waitTrace(t, "button left, down 1")
	if err := c.PointerRel(0, 0, 0); err != nil {
		t.Fatal(err)
	}
	q.waitTrace(t, "button left, down 0")
	// An extended key: Up arrow, E0 48, is key number 0xc8 (200).
	if err := c.Key(true, 0xff52, 0xc8); err != nil {
		t.Fatal(err)
	}
	q.waitTrace(t, "qcode up, down 1")
	if err := c.Key(false, 0xff52, 0xc8); err != nil {
		t.Fatal(err)
	}
	q.waitTrace(t, "qcode up, down 0")

	// Killing QEMU ends the connection with a specific error; a new QEMU on the same socket is picked up.
	connects := c.Stats().Connects
	q.kill()
	waitFor(t, 10*time.Second, "disconnect", func() bool { return !c.Connected() })
	if err := c.Stats().LastError; err == nil {
		t.Fatal("no error recorded for the lost connection")
	} else {
		t.Logf("after kill: %v", err)
	}
	_ = os.Remove(q.sock)
	startQEMUAt(t, q.sock)
	waitFor(t, 30*time.Second, "reconnect", func() bool { return c.Stats().Connects > connects && c.Stats().Updates > 0 })
}
