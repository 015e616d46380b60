package e2etest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/encode"
)

// startPausedQEMU starts a real QEMU (TCG, no disk: SeaBIOS draws on the VGA) with its VNC server on a unix socket,
// paused (-S) until resume is called, so the agent sees the first mode and then the BIOS's mode change.
func startPausedQEMU(t *testing.T) (vnc string, resume func()) {
	t.Helper()
	dir := t.TempDir()
	sock, mon := filepath.Join(dir, "vnc.sock"), filepath.Join(dir, "mon.sock")
	cmd := exec.Command("qemu-system-x86_64", "-accel", "tcg", "-display", "none", "-nodefaults", "-vga", "std",
		"-m", "64", "-S", "-vnc", "unix:"+sock, "-monitor", "unix:"+mon+",server,nowait")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, e1 := os.Stat(sock)
		_, e2 := os.Stat(mon)
		if e1 == nil && e2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("QEMU's sockets did not appear")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "unix:" + sock, func() {
		c, err := net.Dial("unix", mon)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("cont\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRealQEMU: the agent attaches to a real QEMU, streams its screen to a viewer, and follows the guest's mode
// change (QEMU's initial 640x480 VGA to SeaBIOS's 720x400 text mode).
func TestRealQEMU(t *testing.T) {
	vnc, resume := startPausedQEMU(t)
	in := startAgent(t, vnc, encode.H264, nil)
	v, _ := connect(t, in, "qemu-viewer", false)
	ctx := waitCtx(t, 3*time.Minute)
	if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 1 && in.RFB.Connected() }); err != nil {
		t.Fatal("no frame from the paused QEMU")
	}
	first := decodeAll(t, encode.H264, v.Frames())
	t.Logf("first mode %dx%d", first.Width, first.Height)
	resume()
	if err := v.WaitFor(ctx, func() bool {
		w, h := in.FB.Size()
		return w == 720 && h == 400
	}); err != nil {
		w, h := in.FB.Size()
		t.Fatalf("the framebuffer is %dx%d, want SeaBIOS's 720x400 text mode", w, h)
	}
	// What the viewer decodes is QEMU's screen: compare with the agent's framebuffer (SeaBIOS keeps writing to
	// it, so the picture that matches may be a later one).
	var psnr float64
	pic := waitPicture(ctx, t, v, encode.H264, "QEMU's 720x400 screen in the decoded video", 0,
		func(p encode.Picture) (bool, string) {
			if p.Width != 720 || p.Height != 400 {
				return false, fmt.Sprintf("%dx%d, want 720x400", p.Width, p.Height)
			}
			var fb []byte
			var f capture.Frame
			in.FB.Peek(&f, func(f *capture.Frame) { fb = f.CopyTo(nil) })
			if len(fb) != len(p.Pix) {
				return false, fmt.Sprintf("framebuffer of %d bytes, picture of %d", len(fb), len(p.Pix))
			}
			psnr = encode.PSNR(p.Pix, fb, p.Width, p.Height)
			return psnr >= 30, fmt.Sprintf("PSNR %.1f dB against the framebuffer, want 30", psnr)
		})
	t.Logf("PSNR against the framebuffer %.1f dB", psnr)
	if first.Width == pic.Width && first.Height == pic.Height {
		t.Fatalf("no mode change seen: %dx%d before and after", pic.Width, pic.Height)
	}
}
