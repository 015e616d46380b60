package qemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/input"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/webrtc"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
	"github.com/loco-cluster/loco/hack/guest/strip"
)

// TestDemoGuestOverWebRTC runs the whole agent path against the supervised demo guest: QEMU -> VNC -> rfb ->
// H.264 -> Pion -> a Go WebRTC viewer that decodes the frames and reads the guest's state strip from them. Input
// goes back the way a browser sends it (DataChannel "input", relative pointer and KeyboardEvent codes), and the
// click sound comes out of the Opus track.
func TestDemoGuestOverWebRTC(t *testing.T) {
	qin := startDemo(t, "webrtc-1", nil)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	agent, err := instance.New(instance.Config{
		VNC: qin.sup.VNCAddress(), Codec: encode.H264, AudioServer: qin.pa.Address(),
		AudioDevice: qin.pa.MonitorSource(), Logger: log,
		WebRTC: webrtc.Config{ListenIP: "127.0.0.1", TCPPort: -1, AllowLoopback: true, Logger: log},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("instance: %v", err)
		}
	})

	v, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	offer, err := v.Offer()
	if err != nil {
		t.Fatal(err)
	}
	octx, ocancel := context.WithTimeout(ctx, 90*time.Second)
	ans, err := agent.WebRTC.Offer(octx, webrtc.OfferRequest{SessionID: "s-1", SDP: offer,
		Viewer: webrtc.Viewer{ID: "v-1", Name: "test"}, WantControl: true})
	ocancel()
	if err != nil {
		t.Fatal(err)
	}
	if !ans.Controller {
		t.Fatal("viewer did not get control")
	}
	if err := v.Accept(ans.SDP); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := v.WaitOpen(wctx); err != nil {
		t.Fatalf("input channel: %v", err)
	}

	dec, err := encode.NewDecoder(encode.H264)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	next, decodeErrs := 0, 0
	var decodeErr error
	// seen decodes the frames received since the last call and returns the state strips read from them. A frame
	// the decoder refuses is counted and skipped (the waits below fail if no strip ever comes through).
	seen := func() []strip.State {
		frames := v.Frames()
		var out []strip.State
		for ; next < len(frames); next++ {
			pic, ok, err := dec.Decode(frames[next].Data, 5*time.Second)
			if err != nil {
				decodeErrs, decodeErr = decodeErrs+1, fmt.Errorf("frame %d: %w", next, err)
				continue
			}
			if !ok {
				continue
			}
			st, err := strip.DecodeFunc(func(x, y int) uint8 {
				p := pic.Pix[y*pic.Width*4+4*x:]
				return uint8((114*int(p[0]) + 587*int(p[1]) + 299*int(p[2])) / 1000)
			}, pic.Width, pic.Height)
			if err == nil {
				out = append(out, st)
			}
		}
		return out
	}
	var last strip.State
	// As waitState: every wait gets at least a minute on a loaded machine, and returns as soon as ok holds.
	wait := func(what string, timeout time.Duration, ok func(strip.State) bool) strip.State {
		t.Helper()
		timeout = max(timeout, time.Minute)
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			for _, st := range seen() {
				last = st
				if ok(st) {
					return st
				}
			}
			time.Sleep(30 * time.Millisecond)
		}
		t.Fatalf("%s: not seen in decoded video within %s (last strip %+v, %d frames, %d undecodable, last: %v)",
			what, timeout, last, len(v.Frames()), decodeErrs, decodeErr)
		return last
	}
	send := func(ev input.Event) {
		t.Helper()
		if err := v.SendInput(input.Encode(nil, ev)); err != nil {
			t.Fatal(err)
		}
	}

	first := wait("the guest's state strip", 5*time.Minute, func(strip.State) bool { return true })
	wait("animation", 30*time.Second, func(s strip.State) bool { return s.Frame > first.Frame+5 })
	for relDeadline := time.Now().Add(time.Minute); !qin.vnc.Relative(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(relDeadline) {
			t.Fatal("QEMU never announced a relative pointer")
		}
	}

	// Pointer: relative moves from where the guest says it is to a target, in uneven steps; then a click.
	settle := func() strip.State {
		cur, since := last, time.Now()
		for time.Since(since) < 400*time.Millisecond {
			for _, st := range seen() {
				if st.X != cur.X || st.Y != cur.Y {
					cur, since = st, time.Now()
				}
				last = st
			}
			time.Sleep(30 * time.Millisecond)
		}
		return cur
	}
	target := [2]int{604, 211}
	cur := settle()
	dx, dy := target[0]-int(cur.X), target[1]-int(cur.Y)
	sent := [2]int{}
	for _, f := range []float64{0.05, 0.2, 0.01, 0.4, 0.1} {
		step := [2]int{int(f * float64(dx)), int(f * float64(dy))}
		send(input.Event{Type: input.TypePointerRel, X: step[0], Y: step[1]})
		sent[0], sent[1] = sent[0]+step[0], sent[1]+step[1]
		time.Sleep(20 * time.Millisecond)
	}
	send(input.Event{Type: input.TypePointerRel, X: dx - sent[0], Y: dy - sent[1]})
	settle()
	audioAt := len(v.Audio())
	send(input.Event{Type: input.TypePointerRel, Buttons: 1})
	down := wait("click", 10*time.Second, func(s strip.State) bool {
		return s.Clicks == cur.Clicks+1 && s.Buttons == strip.ButtonLeft
	})
	send(input.Event{Type: input.TypePointerRel})
	ex, ey := int(down.X)-target[0], int(down.Y)-target[1]
	t.Logf("pointer error through WebRTC input and decoded video: dx=%d dy=%d px", ex, ey)
	if abs(ex) > 2 || abs(ey) > 2 {
		t.Fatalf("guest pointer at (%d, %d) at the click, target (%d, %d)", down.X, down.Y, target[0], target[1])
	}

	// Keys, as KeyboardEvent.code.
	for _, k := range []struct {
		code string
		key  uint16
	}{{"KeyL", 38}, {"Digit7", 8}, {"Space", 57}} {
		before := last.Keys
		send(input.Event{Type: input.TypeKeyDown, Code: k.code})
		send(input.Event{Type: input.TypeKeyUp, Code: k.code})
		wait(k.code, 10*time.Second, func(s strip.State) bool { return s.Keys == before+1 && s.LastKey == k.key })
	}

	// The click's 3 kHz tick on the Opus track (decoded as the packets arrive: a loaded machine delays the guest's
	// sound card, PulseAudio and the encoder).
	adec, err := encode.NewAudioDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer adec.Close()
	var mono []float64
	var tone, rms float64
	from := max(audioAt-5, 0)
	for deadline := time.Now().Add(time.Minute); tone < 0.05 && time.Now().Before(deadline); {
		packets := v.Audio()
		for _, p := range packets[from:] {
			pcm, err := adec.Decode(p.Data, 20*time.Millisecond, 5*time.Second)
			if err != nil {
				t.Fatalf("opus decode: %v", err)
			}
			for i := 0; i+1 < len(pcm); i += 2 {
				mono = append(mono, float64(pcm[i])/32768)
			}
		}
		from = len(packets)
		tone, rms = toneLevel(mono, 48000, 3000)
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("click on the WebRTC audio track: 3 kHz amplitude %.3f (RMS %.3f) in %d packets", tone, rms, len(v.Audio())-audioAt)
	if tone < 0.05 {
		t.Fatalf("no click sound on the Opus track within a minute (3 kHz amplitude %.4f, RMS %.4f)", tone, rms)
	}
}
