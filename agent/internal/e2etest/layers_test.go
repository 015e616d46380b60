package e2etest

import (
	"errors"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
	"github.com/loco-cluster/loco/agent/internal/webrtc"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

// TestSmallLayer: beside a full-size viewer, a viewer asking for maxWidth=320 of an 800x600 screen receives a
// 400x300 picture from a second encoder that matches the downscaled framebuffer, with a keyframe on PLI; the full-
// size viewer still receives 800x600. The half-size encoder stops when its last viewer leaves and starts again for
// the next one; while only small viewers watch, the full-size encoder gets no frames.
func TestSmallLayer(t *testing.T) {
	for _, codec := range []encode.Codec{encode.H264, encode.VP8} {
		t.Run(string(codec), func(t *testing.T) {
			srv, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown, Label: "layers"})
			in := startAgent(t, addr, codec, nil)
			ctx := waitCtx(t, 40*time.Second)
			full, _ := connect(t, in, "full", false)
			if err := full.WaitFor(ctx, func() bool { return len(full.Frames()) >= 5 }); err != nil {
				t.Fatalf("full-size viewer: %d frames: %v", len(full.Frames()), err)
			}
			if in.SmallVideo() != nil {
				t.Fatal("the half-size encoder runs without a small viewer")
			}
			small := connectSmall(t, in, "small", 320)
			if err := small.WaitFor(ctx, func() bool { return len(small.Frames()) >= 20 }); err != nil {
				t.Fatalf("small viewer: %d frames: %v", len(small.Frames()), err)
			}
			sv := in.SmallVideo()
			if sv == nil {
				t.Fatal("no half-size encoder while a small viewer watches")
			}
			if st := in.WebRTC.Stats(); st.SmallSessions != 1 || st.Sessions != 2 {
				t.Errorf("stats %+v", st)
			}
			if !small.Frames()[0].Keyframe {
				t.Error("the small viewer's first frame is not a keyframe")
			}
			for i, f := range small.Frames() {
				if !f.PlayoutDelay {
					t.Fatalf("small frame %d arrived without playout-delay 0", i)
				}
			}

			// Freeze the scene and ask both for a keyframe: each decodes the frozen picture at its size.
			srv.Pause(true)
			time.Sleep(300 * time.Millisecond)
			nf, ns := len(full.Frames()), len(small.Frames())
			sent := time.Now()
			_ = full.SendPLI()
			_ = small.SendPLI()
			if _, err := waitKeyFrame(ctx, small, ns, sent); err != nil {
				t.Fatal("no keyframe for the small viewer after its PLI")
			}
			if _, err := waitKeyFrame(ctx, full, nf, sent); err != nil {
				t.Fatal("no keyframe for the full-size viewer after its PLI")
			}
			time.Sleep(200 * time.Millisecond)
			w, h, pix, _ := srv.Snapshot()
			fp := decodeAll(t, codec, full.Frames())
			if fp.Width != w || fp.Height != h {
				t.Fatalf("full-size viewer decoded %dx%d, server %dx%d", fp.Width, fp.Height, w, h)
			}
			// Lenient: under load GCC may cut the keyframe's bitrate, and vp8enc does not refine still blocks.
			fpsnr := encode.PSNR(fp.Pix, pix, w, h)
			if fpsnr < 24 {
				t.Errorf("full-size PSNR %.1f dB < 24", fpsnr)
			}
			sp := decodeAll(t, codec, small.Frames())
			if sp.Width != w/2 || sp.Height != h/2 {
				t.Fatalf("small viewer decoded %dx%d, want %dx%d", sp.Width, sp.Height, w/2, h/2)
			}
			want := encode.Downscale(pix, w, h, w*4, 2)
			p := encode.PSNR(sp.Pix, want, w/2, h/2)
			t.Logf("%s: full size PSNR %.1f dB; small layer %dx%d, PSNR %.1f dB against the framebuffer scaled down",
				codec, fpsnr, sp.Width, sp.Height, p)
			if p < 22 {
				t.Errorf("small-layer PSNR %.1f dB < 22", p)
			}
			srv.Pause(false)

			// The last small viewer leaves: the half-size encoder stops; the full-size viewer goes on.
			if err := in.WebRTC.CloseSession("s-small", "test"); err != nil {
				t.Fatal(err)
			}
			if err := full.WaitFor(ctx, func() bool { return in.SmallVideo() == nil }); err != nil {
				t.Fatal("the half-size encoder still runs after its last viewer left")
			}
			if err := sv.Push(pix, w, h, w*4, time.Now()); !errors.Is(err, encode.ErrClosed) {
				t.Errorf("the stopped half-size encoder accepted a frame: %v", err)
			}
			nf = len(full.Frames())
			if err := full.WaitFor(ctx, func() bool { return len(full.Frames()) >= nf+5 }); err != nil {
				t.Fatal("the full-size viewer stopped receiving after the small one left")
			}

			// A viewer that wants the full width, or a wider one than half, stays on the full layer.
			wide := connectSmall(t, in, "wide", 640)
			if err := wide.WaitFor(ctx, func() bool { return len(wide.Frames()) >= 3 }); err != nil {
				t.Fatal(err)
			}
			if in.SmallVideo() != nil || in.WebRTC.Stats().SmallSessions != 0 {
				t.Error("maxWidth=640 of 800 got the half-size layer")
			}

			// The next small viewer starts a new half-size encoder.
			again := connectSmall(t, in, "again", 400)
			if err := again.WaitFor(ctx, func() bool { return len(again.Frames()) >= 3 }); err != nil {
				t.Fatal(err)
			}
			if in.SmallVideo() == nil || in.SmallVideo() == sv {
				t.Error("no new half-size encoder for the next small viewer")
			}
			if pic := decodeAll(t, codec, again.Frames()); pic.Width != w/2 {
				t.Errorf("second small viewer decoded %dx%d", pic.Width, pic.Height)
			}
			// With only the small viewer left, the full-size encoder gets no frames; a full-size viewer that comes
			// back gets a keyframe first and the full picture.
			for _, id := range []string{"s-full", "s-wide"} {
				if err := in.WebRTC.CloseSession(id, "test"); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(200 * time.Millisecond)
			in0, na := in.Video.Stats().FramesIn, len(again.Frames())
			time.Sleep(500 * time.Millisecond)
			if in1 := in.Video.Stats().FramesIn; in1 != in0 {
				t.Errorf("the full-size encoder got %d frames with only a small viewer", in1-in0)
			}
			if len(again.Frames()) <= na {
				t.Error("the small viewer stopped receiving when the full-size viewers left")
			}
			back := connectSmall(t, in, "back", 0)
			if err := back.WaitFor(ctx, func() bool { return len(back.Frames()) >= 3 }); err != nil {
				t.Fatal(err)
			}
			if !back.Frames()[0].Keyframe {
				t.Error("the returning full-size viewer's first frame is not a keyframe")
			}
			if pic := decodeAll(t, codec, back.Frames()); pic.Width != w || pic.Height != h {
				t.Errorf("returning full-size viewer decoded %dx%d", pic.Width, pic.Height)
			}

			// It leaves by closing its peer connection: the encoder stops too.
			_ = again.Close()
			if err := full.WaitFor(ctx, func() bool { return in.SmallVideo() == nil }); err != nil {
				t.Fatal("the half-size encoder still runs after the viewer closed its connection")
			}
		})
	}
}

// connectSmall connects a viewer asking for at most maxWidth pixels (0: full size).
func connectSmall(t *testing.T, in *instance.Instance, id string, maxWidth int) *webrtctest.Viewer {
	t.Helper()
	v, _ := connectReq(t, in, webrtc.OfferRequest{SessionID: "s-" + id, Viewer: webrtc.Viewer{ID: id},
		MaxWidth: maxWidth})
	return v
}
