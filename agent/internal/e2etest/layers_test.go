package e2etest

import (
	"errors"
	"fmt"
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
			ctx := waitCtx(t, 4*time.Minute)
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

			// Freeze the scene and ask both for a keyframe: each decodes the frozen picture at its size (the full-size
			// one recognised by the server's last stamp, the small one by its likeness to the framebuffer scaled down).
			// Lenient thresholds, and waits for them rather than judging the keyframe alone: under load GCC may cut
			// the keyframe's bitrate, and the encoders refine a still picture with each keep-alive frame.
			srv.Pause(true)
			w, h, pix, _ := srv.Snapshot()
			nf, ns := len(full.Frames()), len(small.Frames())
			_ = full.SendPLI()
			_ = small.SendPLI()
			var fpsnr, p float64
			waitPicture(ctx, t, full, codec, "the frozen picture at full size after a PLI", nf,
				frozenFrame(t, pix, w, h, 24, &fpsnr))
			want := encode.Downscale(pix, w, h, w*4, 2)
			sp := waitPicture(ctx, t, small, codec, "the frozen picture at half size after a PLI, PSNR 22 dB or more", ns,
				func(sp encode.Picture) (bool, string) {
					if sp.Width != w/2 || sp.Height != h/2 {
						return false, fmt.Sprintf("%dx%d, want %dx%d", sp.Width, sp.Height, w/2, h/2)
					}
					p = encode.PSNR(sp.Pix, want, w/2, h/2)
					return p >= 22, fmt.Sprintf("PSNR %.1f dB against the framebuffer scaled down", p)
				})
			t.Logf("%s: full size PSNR %.1f dB; small layer %dx%d, PSNR %.1f dB against the framebuffer scaled down",
				codec, fpsnr, sp.Width, sp.Height, p)
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
			// (Closing takes effect at once, but a frame may be on its way to the full-size encoder already: count
			// over a window in which the small viewer receives frames, once the sessions are gone.)
			if err := again.WaitFor(ctx, func() bool { return in.WebRTC.Stats().Sessions == 1 }); err != nil {
				t.Fatalf("stats after closing the full-size sessions: %+v", in.WebRTC.Stats())
			}
			var extra uint64
			for {
				in0, na := in.Video.Stats().FramesIn, len(again.Frames())
				if err := again.WaitFor(ctx, func() bool { return len(again.Frames()) >= na+15 }); err != nil {
					t.Fatalf("no window of 15 frames to the small viewer without frames to the full-size encoder "+
						"(it got %d in the last one; the small viewer has %d frames): %v", extra, len(again.Frames()), err)
				}
				if extra = in.Video.Stats().FramesIn - in0; extra == 0 {
					break
				}
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
