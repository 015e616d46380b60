package e2etest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/input"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

// decodeAll decodes frames in order and returns the last picture.
func decodeAll(t *testing.T, codec encode.Codec, frames []webrtctest.Frame) encode.Picture {
	t.Helper()
	dec, err := encode.NewDecoder(codec)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var last encode.Picture
	for i, f := range frames {
		pic, ok, err := dec.Decode(f.Data, 5*time.Second)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if ok {
			last = pic
		}
	}
	if last.Width == 0 {
		t.Fatal("nothing decoded")
	}
	return last
}

// TestVideoMatchesFramebuffer: a viewer receives the synthetic server's picture through the whole path, for both
// codecs; the first frame is a keyframe, every packet carries playout-delay 0, the decoded picture matches the
// server's (PSNR), and frames keep flowing with increasing stamps while the scene moves.
func TestVideoMatchesFramebuffer(t *testing.T) {
	for _, codec := range []encode.Codec{encode.H264, encode.VP8} {
		t.Run(string(codec), func(t *testing.T) {
			srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown, Label: "e2e"})
			in := startAgent(t, addr, codec, nil)
			v, _ := connect(t, in, "v1", false)
			ctx := waitCtx(t, 3*time.Minute)
			if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 30 }); err != nil {
				t.Fatalf("%d frames: %v", len(v.Frames()), err)
			}
			frames := v.Frames()
			if !frames[0].Keyframe {
				t.Errorf("first frame is not a keyframe")
			}
			for i, f := range frames {
				if !f.PlayoutDelay {
					t.Fatalf("frame %d arrived without playout-delay min=max=0 on every packet", i)
				}
			}
			if got := strings.ToLower(v.VideoMime()); got != strings.ToLower(codec.MimeType()) {
				t.Errorf("negotiated %s, want %s", got, codec.MimeType())
			}
			// Stamps of decoded frames increase: the picture moves through the pipe.
			dec, err := encode.NewDecoder(codec)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			var stamps []uint16
			for _, f := range frames {
				pic, ok, err := dec.Decode(f.Data, 5*time.Second)
				if err != nil || !ok {
					continue
				}
				if s, ok := vncsynth.DecodeStamp(pic.Pix, pic.Width*4, 4); ok {
					stamps = append(stamps, s)
				}
			}
			if len(stamps) < 20 || stamps[len(stamps)-1] <= stamps[0] {
				t.Fatalf("decoded stamps %v", stamps)
			}

			// The congestion controller's estimate sets the encoder's target, within the bounds.
			var tb, eb int
			if err := v.WaitFor(ctx, func() bool {
				tb, eb = in.WebRTC.Stats().TargetBps, in.Video.BitRate()
				return tb > 0 && tb == eb
			}); err != nil {
				t.Fatalf("the estimate (%d bit/s) did not reach the encoder (%d bit/s)", tb, eb)
			}
			if tb < 150_000 || tb > 4_000_000 {
				t.Errorf("encoder target %d bit/s outside the bounds", tb)
			}
			t.Logf("%s: GCC target %d bit/s", codec, tb)

			// Freeze the scene and ask for a keyframe: the decoded frozen frame (its stamp is the server's last)
			// must match the server's picture. The first picture of it may be coarse when the congestion controller
			// holds the bitrate low (a loaded machine); the encoder refines a still picture with every keep-alive
			// frame, so wait for the match rather than judge the first one.
			srv.Pause(true)
			w, h, pix, _ := srv.Snapshot()
			n := len(v.Frames())
			_ = v.SendPLI()
			var psnr float64
			waitPicture(ctx, t, v, codec, "the frozen picture after a PLI", n, frozenFrame(t, pix, w, h, 30, &psnr))
			t.Logf("%s: PSNR %.1f dB after %d frames", codec, psnr, len(v.Frames()))
		})
	}
}

// TestModeChangeFollows: the server changes mode; the viewer decodes the new size.
func TestModeChangeFollows(t *testing.T) {
	srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown, Width: 640, Height: 480})
	in := startAgent(t, addr, encode.H264, nil)
	v, _ := connect(t, in, "v1", false)
	ctx := waitCtx(t, 2*time.Minute)
	if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 5 }); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetMode(1024, 768); err != nil {
		t.Fatal(err)
	}
	// One decoder through the whole stream, as a browser's: it follows the change to the new size.
	waitPicture(ctx, t, v, encode.H264, "the new mode in the decoded video", 0, func(p encode.Picture) (bool, string) {
		return p.Width == 1024 && p.Height == 768, fmt.Sprintf("%dx%d", p.Width, p.Height)
	})
	// The status message follows the mode.
	if err := v.WaitFor(ctx, func() bool {
		st := v.Statuses()
		return len(st) > 0 && strings.Contains(st[len(st)-1], `"width":1024`)
	}); err != nil {
		t.Fatalf("statuses %v", v.Statuses())
	}
}

// TestKeyFrameOnPLI: a PLI from the viewer yields a keyframe, also on a still screen.
func TestKeyFrameOnPLI(t *testing.T) {
	for _, codec := range []encode.Codec{encode.H264, encode.VP8} {
		t.Run(string(codec), func(t *testing.T) {
			_, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneStill})
			in := startAgent(t, addr, codec, nil)
			v, _ := connect(t, in, "v1", false)
			ctx := waitCtx(t, 2*time.Minute)
			if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 1 }); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				time.Sleep(300 * time.Millisecond)
				n := len(v.Frames())
				sent := time.Now()
				if err := v.SendPLI(); err != nil {
					t.Fatal(err)
				}
				took, err := waitKeyFrame(ctx, v, n, sent)
				if err != nil {
					t.Fatalf("no keyframe after PLI %d", i)
				}
				t.Logf("%s: keyframe %v after PLI", codec, took.Round(100*time.Microsecond))
			}
		})
	}
}

type status struct {
	Type       string `json:"type"`
	Role       string `json:"role"`
	Controller *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"controller"`
	Width    int  `json:"width"`
	Height   int  `json:"height"`
	Relative bool `json:"relative"`
}

func lastStatus(t *testing.T, v *webrtctest.Viewer) status {
	st := v.Statuses()
	if len(st) == 0 {
		return status{}
	}
	var s status
	if err := json.Unmarshal([]byte(st[len(st)-1]), &s); err != nil {
		t.Fatalf("status %q: %v", st[len(st)-1], err)
	}
	return s
}

// TestInputControlAndSpectator: the controller's input reaches the VNC server as the right messages; a spectator's
// does not; junk on the channel is counted and harms nothing; handing control over changes the statuses.
func TestInputControlAndSpectator(t *testing.T) {
	srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneStill})
	in := startAgent(t, addr, encode.H264, nil)
	ctrl, ans := connect(t, in, "ctrl", true)
	if !ans.Controller {
		t.Fatal("first viewer asking for control did not get it")
	}
	spec, ans2 := connect(t, in, "spec", true)
	if ans2.Controller {
		t.Fatal("second viewer got control while the first holds it")
	}
	ctx := waitCtx(t, 2*time.Minute)
	for _, v := range []*webrtctest.Viewer{ctrl, spec} {
		if err := v.WaitOpen(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctrl.WaitFor(ctx, func() bool { return lastStatus(t, ctrl).Role == "controller" }); err != nil {
		t.Fatalf("controller statuses %v", ctrl.Statuses())
	}
	if err := spec.WaitFor(ctx, func() bool {
		s := lastStatus(t, spec)
		return s.Role == "spectator" && s.Controller != nil && s.Controller.ID == "ctrl" && s.Width == 800
	}); err != nil {
		t.Fatalf("spectator statuses %v", spec.Statuses())
	}
	// Wait for the RFB side to know the server's pointer mode (relative: it announced PointerTypeChange).
	if err := ctrl.WaitFor(ctx, func() bool { return in.RFB.Connected() && in.RFB.Relative() }); err != nil {
		t.Fatalf("the agent's VNC client: connected %v, relative pointer %v", in.RFB.Connected(), in.RFB.Relative())
	}
	base := len(srv.Events(0))

	// Spectator input and junk first: nothing may arrive.
	send := func(v *webrtctest.Viewer, msg []byte) {
		t.Helper()
		if err := v.SendInput(msg); err != nil {
			t.Fatal(err)
		}
	}
	send(spec, input.Encode(nil, input.Event{Type: input.TypeKeyDown, Code: "KeyA"}))
	send(spec, input.Encode(nil, input.Event{Type: input.TypePointerAbs, Buttons: 1, X: 10, Y: 10}))
	send(ctrl, []byte{0x99, 1, 2, 3})
	send(ctrl, []byte{0x01, 0})
	if err := ctrl.DC.SendText("hello"); err != nil {
		t.Fatal(err)
	}
	// The spectator's messages travel on their own connection: wait until the agent has handled (and refused)
	// them, so that none can still be on its way when the events at the server are counted below.
	var st input.Stats
	if err := spec.WaitFor(ctx, func() bool {
		st = in.Input.Stats()
		return st.Spectator >= 2 && st.Malformed >= 3
	}); err != nil {
		t.Fatalf("input stats %+v: want 2 spectator and at least 3 malformed messages handled", st)
	}
	// Then the controller's real input.
	send(ctrl, input.Encode(nil, input.Event{Type: input.TypeKeyDown, Code: "KeyA"}))
	send(ctrl, input.Encode(nil, input.Event{Type: input.TypeKeyUp, Code: "KeyA"}))
	send(ctrl, input.Encode(nil, input.Event{Type: input.TypePointerRel, Buttons: 1, X: 5, Y: -3}))

	var got []vncsynth.Event
	if err := ctrl.WaitFor(ctx, func() bool {
		got = vncsynth.WithoutIdlePointer(srv.Events(0)[base:])
		return len(got) >= 3
	}); err != nil {
		t.Fatalf("events at the server: %+v", got)
	}
	time.Sleep(300 * time.Millisecond) // nothing more arrives
	got = vncsynth.WithoutIdlePointer(srv.Events(0)[base:])
	if len(got) != 3 {
		t.Fatalf("want exactly the controller's 3 events at the server, got %+v", got)
	}
	if got[0].Kind != vncsynth.KindExtKey || !got[0].Down || got[0].Scancode != 0x1e {
		t.Errorf("key down: %+v", got[0])
	}
	if got[1].Kind != vncsynth.KindExtKey || got[1].Down || got[1].Scancode != 0x1e {
		t.Errorf("key up: %+v", got[1])
	}
	if got[2].Kind != vncsynth.KindPointerRel || got[2].X != 5 || got[2].Y != -3 || got[2].Buttons != 1 {
		t.Errorf("relative pointer: %+v", got[2])
	}
	if st := in.Input.Stats(); st.Spectator != 2 || st.Malformed < 3 {
		t.Errorf("input stats %+v: want 2 spectator and at least 3 malformed", st)
	}

	// Hand control to the spectator: roles swap, and its input now arrives.
	in.WebRTC.SetController("spec")
	if err := spec.WaitFor(ctx, func() bool { return lastStatus(t, spec).Role == "controller" }); err != nil {
		t.Fatalf("spectator statuses after handover %v", spec.Statuses())
	}
	if err := ctrl.WaitFor(ctx, func() bool { return lastStatus(t, ctrl).Role == "spectator" }); err != nil {
		t.Fatalf("old controller statuses after handover %v", ctrl.Statuses())
	}
	// (Counted without the zero-motion events that still follow the old controller's motion for a second.)
	received := func() []vncsynth.Event { return vncsynth.WithoutIdlePointer(srv.Events(0)) }
	base = len(received())
	send(spec, input.Encode(nil, input.Event{Type: input.TypeKeyDown, Code: "Enter"}))
	if err := spec.WaitFor(ctx, func() bool { return len(received()) > base }); err != nil {
		t.Fatal("new controller's key did not arrive")
	}
	if e := received()[base]; e.Kind != vncsynth.KindExtKey || e.Scancode != 0x1c {
		t.Errorf("Enter arrived as %+v", e)
	}
	// The video still flows to both after all that.
	n1, n2 := len(ctrl.Frames()), len(spec.Frames())
	_ = ctrl.SendPLI()
	_ = spec.SendPLI()
	if err := ctrl.WaitFor(ctx, func() bool { return len(ctrl.Frames()) > n1 && len(spec.Frames()) > n2 }); err != nil {
		t.Fatal("video stopped after the input tests")
	}
	// The viewers' receiver reports give an RTT.
	if err := ctrl.WaitFor(ctx, func() bool { return in.WebRTC.Stats().RTTms > 0 }); err != nil {
		t.Errorf("no RTT from receiver reports: %+v", in.WebRTC.Stats())
	}
	st2 := in.WebRTC.Stats()
	t.Logf("webrtc stats %+v", st2)
	// The RTT bound checks the unit (milliseconds of a loopback round trip), not speed: a loaded machine may stall.
	if st2.Viewers != 2 || st2.Loss != 0 || st2.RTTms > 5000 {
		t.Errorf("webrtc stats %+v", st2)
	}
}
