package qemu

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/loco-cluster/loco/hack/guest/strip"
)

// TestDemoGuest boots the demo guest under the supervisor (TCG here) with its private PulseAudio and drives it
// through QEMU's VNC server like the agent does: the state strip shows up, relative pointer motion and clicks
// arrive exactly, keys arrive as the right keys, the click is heard on the PulseAudio monitor, a QEMU killed
// with SIGKILL is restarted, system_reset reboots the guest, and stopping powers the guest down over QMP.
func TestDemoGuest(t *testing.T) {
	start := time.Now()
	in := startDemo(t, "test-1", nil)

	// A TCG boot took 76-96 s with QEMU on a thirteenth of a core (load average ~17): minutes are the bound.
	first := in.waitState(t, "first frame with the state strip", 5*time.Minute, func(strip.State) bool { return true })
	t.Logf("first strip frame %.1f s after QEMU started (%.1f s after the test started: guest build check, "+
		"PulseAudio, accelerator probe); accel %s", time.Since(in.sup.Status().Started).Seconds(),
		time.Since(start).Seconds(), in.sup.Status().Accel)
	if st := in.sup.Status(); st.State != StateRunning || st.PID == 0 {
		t.Fatalf("status after boot: %+v", st)
	}
	if m := in.vnc.Mode(); m.Width != 800 || m.Height != 600 {
		t.Fatalf("guest screen %dx%d, want 800x600", m.Width, m.Height)
	}
	in.waitState(t, "animation", 30*time.Second, func(s strip.State) bool { return s.Frame >= first.Frame+10 })

	t.Run("pointer", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for !in.vnc.Relative() {
			if time.Now().After(deadline) {
				t.Fatal("QEMU never announced a relative pointer (PointerTypeChange)")
			}
			time.Sleep(50 * time.Millisecond)
		}
		rec := record(t, in.pa)
		// From wherever the guest says the pointer is, to a first target and on to a second one, in uneven
		// steps as a locked browser pointer produces them; then click.
		moveTo := func(tx, ty int) {
			cur := in.settled(t)
			dx, dy := tx-int(cur.X), ty-int(cur.Y)
			sent := [2]int{}
			for _, f := range []float64{0.01, 0.1, 0.3, 0.02, 0.45, 0.07, 0.05} {
				step := [2]int{int(f * float64(dx)), int(f * float64(dy))}
				if err := in.vnc.PointerRel(0, step[0], step[1]); err != nil {
					t.Fatal(err)
				}
				sent[0], sent[1] = sent[0]+step[0], sent[1]+step[1]
				time.Sleep(15 * time.Millisecond)
			}
			if err := in.vnc.PointerRel(0, dx-sent[0], dy-sent[1]); err != nil {
				t.Fatal(err)
			}
		}
		moveTo(700, 150)
		in.waitState(t, "pointer at the first target", 10*time.Second, func(s strip.State) bool {
			return abs(int(s.X)-700) <= 2 && abs(int(s.Y)-150) <= 2
		})
		target := [2]int{123, 456}
		moveTo(target[0], target[1])
		time.Sleep(300 * time.Millisecond)
		before, _ := in.state()
		clickAt := rec.len()
		if err := in.vnc.PointerRel(1, 0, 0); err != nil {
			t.Fatal(err)
		}
		down := in.waitState(t, "left button down", 10*time.Second, func(s strip.State) bool {
			return s.Buttons == strip.ButtonLeft && s.Clicks == before.Clicks+1
		})
		if err := in.vnc.PointerRel(0, 0, 0); err != nil {
			t.Fatal(err)
		}
		in.waitState(t, "button released", 10*time.Second, func(s strip.State) bool { return s.Buttons == 0 })
		ex, ey := int(down.X)-target[0], int(down.Y)-target[1]
		t.Logf("pointer error after two legs of 8 relative moves each and a click: dx=%d dy=%d px", ex, ey)
		if abs(ex) > 2 || abs(ey) > 2 {
			t.Fatalf("guest pointer at (%d, %d), target (%d, %d)", down.X, down.Y, target[0], target[1])
		}

		// A burst of motion written at once, faster than the guest drains QEMU's PS/2 queue (four packets): all of
		// it arrives, none is held back until the next event (rfb.Client.PointerRel's zero-motion flushes).
		from := in.settled(t)
		for range 10 {
			if err := in.vnc.PointerRel(0, 40, -20); err != nil {
				t.Fatal(err)
			}
		}
		in.waitState(t, "pointer after a burst of motion", 10*time.Second, func(s strip.State) bool {
			return abs(int(s.X)-int(from.X)-400) <= 2 && abs(int(s.Y)-int(from.Y)+200) <= 2
		})

		// The click sound: a 3 kHz tick on the PulseAudio monitor (within 30 s: a loaded machine delays the guest).
		deadline = time.Now().Add(30 * time.Second)
		var tone, rms float64
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if tone, rms = toneLevel(rec.samples(clickAt), 48000, 3000); tone > 0.05 {
				break
			}
		}
		t.Logf("click sound: 3 kHz amplitude %.3f, peak window RMS %.3f", tone, rms)
		if tone < 0.05 {
			t.Fatalf("no click sound on %s (3 kHz amplitude %.4f, RMS %.4f, %d samples)", in.pa.MonitorSource(),
				tone, rms, rec.len()-clickAt)
		}
	})

	t.Run("keys", func(t *testing.T) {
		s0, err := in.state()
		if err != nil {
			t.Fatal(err)
		}
		// keysym, XT scan code, Linux key code the guest reports.
		for i, k := range [][3]uint32{{'h', 0x23, 35}, {'i', 0x17, 23}, {0xff0d, 0x1c, 28}, {0xff51, 0xcb, 105}} {
			if err := in.vnc.Key(true, k[0], k[1]); err != nil {
				t.Fatal(err)
			}
			if err := in.vnc.Key(false, k[0], k[1]); err != nil {
				t.Fatal(err)
			}
			in.waitState(t, "key", 10*time.Second, func(s strip.State) bool {
				return s.Keys == s0.Keys+uint16(i+1) && uint32(s.LastKey) == k[2]
			})
		}
	})

	t.Run("reset", func(t *testing.T) {
		typeKey(t, in, 'r', 0x13, "a key before the reset")
		if err := in.sup.Reset(t.Context()); err != nil {
			t.Fatal(err)
		}
		// A rebooted guest starts counting keys and clicks from zero.
		in.waitState(t, "guest rebooted (key and click counters restarted)", 5*time.Minute, func(s strip.State) bool {
			return s.Keys == 0 && s.Clicks == 0
		})
	})

	t.Run("sigkill", func(t *testing.T) {
		typeKey(t, in, 'k', 0x25, "a key before the kill")
		st := in.sup.Status()
		if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Minute)
		for {
			now := in.sup.Status()
			if now.Restarts == st.Restarts+1 && now.State == StateRunning && now.PID != st.PID {
				t.Logf("restarted after SIGKILL: %+v", now)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not restarted: %+v", now)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if last := in.sup.Status().LastExit; last == "" {
			t.Fatal("no LastExit after the kill")
		}
		in.waitState(t, "picture of the new guest after the restart", 5*time.Minute, func(s strip.State) bool { return s.Keys == 0 })
	})

	t.Run("powerdown", func(t *testing.T) {
		begin := time.Now()
		in.stop(t)
		st := in.sup.Status()
		t.Logf("stopped in %.1f s: %+v", time.Since(begin).Seconds(), st)
		if st.State != StateExited || st.LastExit != "stopped, guest powered off" {
			t.Fatalf("after stop: %+v; want a clean power-off (QEMU exit status 0)", st)
		}
		if err := in.sup.Restart(t.Context()); !errors.Is(err, ErrStopped) {
			t.Fatalf("Restart after stop: %v, want ErrStopped", err)
		}
	})
}

// typeKey types a key so that the guest's state differs from a freshly booted one (whose key count is 0) and
// waits until the guest counted it.
func typeKey(t *testing.T, in *demoInstance, keysym, scancode uint32, what string) {
	t.Helper()
	before, err := in.state()
	if err != nil {
		t.Fatal(err)
	}
	if err := in.vnc.Key(true, keysym, scancode); err != nil {
		t.Fatal(err)
	}
	if err := in.vnc.Key(false, keysym, scancode); err != nil {
		t.Fatal(err)
	}
	in.waitState(t, what, 30*time.Second, func(s strip.State) bool { return s.Keys == before.Keys+1 })
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
