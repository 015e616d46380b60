package input_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/input"
	"github.com/loco-cluster/loco/agent/internal/rfb"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

// The RFB client is the injector.
var _ input.Injector = (*rfb.Client)(nil)

// TestThroughVNC sends DataChannel bytes through the handler and a real RFB connection to the synthetic server and
// checks the messages it receives.
func TestThroughVNC(t *testing.T) {
	for _, absolute := range []bool{false, true} {
		name := map[bool]string{false: "relative server", true: "absolute server"}[absolute]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			srv, addr, err := vncsynth.Start(ctx, vncsynth.Config{Scene: vncsynth.SceneStill, AbsolutePointer: absolute},
				"unix:"+filepath.Join(t.TempDir(), "vnc.sock"))
			if err != nil {
				t.Fatal(err)
			}
			fb := &capture.Framebuffer{}
			c := rfb.New(rfb.Config{Addr: addr, Framebuffer: fb})
			runDone := make(chan struct{})
			go func() { defer close(runDone); _ = c.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-runDone; <-srv.Done() })
			deadline := time.Now().Add(time.Minute) // for the connection and then the events (a loaded machine)
			for !(c.ExtendedKeys() && c.Connected() && (c.Relative() != absolute)) {
				if time.Now().After(deadline) {
					t.Fatal("no connection with -257 and -258")
				}
				time.Sleep(10 * time.Millisecond)
			}
			h := input.NewHandler(c, fb, input.Config{})
			send := func(ev input.Event, allowed bool) {
				t.Helper()
				_ = h.Handle(input.Encode(nil, ev), allowed)
			}
			send(input.Event{Type: input.TypePointerAbs, X: 300, Y: 200}, true)
			send(input.Event{Type: input.TypePointerRel, Buttons: 1, X: 5, Y: -6}, true)
			send(input.Event{Type: input.TypePointerAbs, X: 9999, Y: 50}, false) // spectator: dropped
			send(input.Event{Type: input.TypeKeyDown, Code: "ArrowLeft"}, true)
			send(input.Event{Type: input.TypeReleaseAll}, true)

			var want []vncsynth.Event
			if absolute {
				want = []vncsynth.Event{
					{Kind: vncsynth.KindPointerAbs, X: 300, Y: 200},
					{Kind: vncsynth.KindPointerAbs, Buttons: 1, X: 305, Y: 194},
				}
			} else {
				// Relative from the handler's starting position (0,0): first move is +300,+200.
				want = []vncsynth.Event{
					{Kind: vncsynth.KindPointerRel, X: 300, Y: 200},
					{Kind: vncsynth.KindPointerRel, Buttons: 1, X: 5, Y: -6},
				}
			}
			want = append(want,
				vncsynth.Event{Kind: vncsynth.KindExtKey, Down: true, Keysym: 0xff51, Scancode: 0xcb},
				vncsynth.Event{Kind: vncsynth.KindExtKey, Down: false, Keysym: 0xff51, Scancode: 0xcb},
			)
			if absolute {
				want = append(want, vncsynth.Event{Kind: vncsynth.KindPointerAbs, X: 305, Y: 194})
			} else {
				want = append(want, vncsynth.Event{Kind: vncsynth.KindPointerRel})
			}
			var got []vncsynth.Event
			for time.Now().Before(deadline) {
				if got = vncsynth.WithoutIdlePointer(srv.Events(0)); len(got) >= len(want) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // nothing more arrives
			got = vncsynth.WithoutIdlePointer(srv.Events(0))
			if len(got) != len(want) {
				t.Fatalf("server got %d events, want %d: %+v", len(got), len(want), got)
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Kind != w.Kind || g.Buttons != w.Buttons || g.X != w.X || g.Y != w.Y || g.Down != w.Down ||
					g.Keysym != w.Keysym || g.Scancode != w.Scancode {
					t.Errorf("event %d: got %+v, want %+v", i, g, w)
				}
			}
			if s := h.Stats(); s.Spectator != 1 || s.Injected != 4 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}
