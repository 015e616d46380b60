package input

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// fakeInjector records calls as strings.
type fakeInjector struct {
	relative bool
	fail     error
	calls    []string
}

func (f *fakeInjector) PointerAbs(b uint8, x, y int) error {
	f.calls = append(f.calls, fmt.Sprintf("abs %d %d,%d", b, x, y))
	return f.fail
}

func (f *fakeInjector) PointerRel(b uint8, dx, dy int) error {
	f.calls = append(f.calls, fmt.Sprintf("rel %d %d,%d", b, dx, dy))
	return f.fail
}

func (f *fakeInjector) Key(down bool, keysym, scancode uint32) error {
	f.calls = append(f.calls, fmt.Sprintf("key %v 0x%x 0x%x", down, keysym, scancode))
	return f.fail
}

func (f *fakeInjector) Relative() bool { return f.relative }

func (f *fakeInjector) take() []string {
	c := f.calls
	f.calls = nil
	return c
}

func newTestHandler(t *testing.T, relative bool) (*Handler, *fakeInjector) {
	t.Helper()
	fb, err := capture.NewFramebuffer(800, 600)
	if err != nil {
		t.Fatal(err)
	}
	inj := &fakeInjector{relative: relative}
	return NewHandler(inj, fb, Config{}), inj
}

func msg(ev Event) []byte { return Encode(nil, ev) }

func expectCalls(t *testing.T, inj *fakeInjector, want ...string) {
	t.Helper()
	if got := inj.take(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

func TestHandlerAbsoluteServer(t *testing.T) {
	h, inj := newTestHandler(t, false)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Handle(msg(Event{Type: TypePointerAbs, Buttons: 1, X: 100, Y: 50}), true))
	expectCalls(t, inj, "abs 1 100,50")
	must(h.Handle(msg(Event{Type: TypePointerAbs, X: 5000, Y: 700}), true)) // clamped
	expectCalls(t, inj, "abs 0 799,599")
	// Relative motion becomes absolute from the last position, clamped.
	must(h.Handle(msg(Event{Type: TypePointerRel, X: -100, Y: 20}), true))
	expectCalls(t, inj, "abs 0 699,599")
	must(h.Handle(msg(Event{Type: TypePointerRel, X: -1000, Y: -1000}), true))
	expectCalls(t, inj, "abs 0 0,0")
	// Wheel: press and release per notch at the current position.
	must(h.Handle(msg(Event{Type: TypeWheel, Buttons: 1, Y: 2}), true))
	expectCalls(t, inj, "abs 17 0,0", "abs 1 0,0", "abs 17 0,0", "abs 1 0,0")
	must(h.Handle(msg(Event{Type: TypeWheel, Y: -1, X: 1}), true))
	expectCalls(t, inj, "abs 8 0,0", "abs 0 0,0", "abs 64 0,0", "abs 0 0,0")
	must(h.Handle(msg(Event{Type: TypeWheel, Y: -100}), true)) // bounded
	if n := len(inj.take()); n != 32 {
		t.Fatalf("%d calls for 100 notches, want 32 (16 notches)", n)
	}
}

func TestHandlerRelativeServer(t *testing.T) {
	h, inj := newTestHandler(t, true)
	if err := h.Handle(msg(Event{Type: TypePointerRel, Buttons: 4, X: -7, Y: 9}), true); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, inj, "rel 4 -7,9")
	// Absolute positions become deltas from the last known position (0-7 clamps to 0, so 0,9 is the start).
	if err := h.Handle(msg(Event{Type: TypePointerAbs, X: 10, Y: 19}), true); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, inj, "rel 0 10,10")
	if err := h.Handle(msg(Event{Type: TypeWheel, Y: 1}), true); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, inj, "rel 16 0,0", "rel 0 0,0")
}

func TestHandlerKeysAndReleaseAll(t *testing.T) {
	h, inj := newTestHandler(t, true)
	for _, code := range []string{"ShiftLeft", "KeyA", "ArrowUp"} {
		if err := h.Handle(msg(Event{Type: TypeKeyDown, Code: code}), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Handle(msg(Event{Type: TypeKeyUp, Code: "KeyA"}), true); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, inj, "key true 0xffe1 0x2a", "key true 0x61 0x1e", "key true 0xff52 0xc8", "key false 0x61 0x1e")
	if err := h.Handle(msg(Event{Type: TypePointerRel, Buttons: 1}), true); err != nil {
		t.Fatal(err)
	}
	inj.take()
	if err := h.Handle([]byte{0x06}, true); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, inj, "key false 0xffe1 0x2a", "key false 0xff52 0xc8", "rel 0 0,0")
	// Nothing is held any more.
	if err := h.ReleaseAll(); err != nil {
		t.Fatal(err)
	}
	expectCalls(t, inj, "rel 0 0,0")
}

func TestHandlerRejections(t *testing.T) {
	h, inj := newTestHandler(t, false)
	if err := h.Handle(msg(Event{Type: TypePointerAbs, X: 1, Y: 1}), false); !errors.Is(err, ErrSpectator) {
		t.Fatalf("spectator: %v", err)
	}
	if err := h.Handle([]byte{0x01, 0}, true); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed: %v", err)
	}
	if err := h.Handle([]byte{0x09}, true); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown type: %v", err)
	}
	if err := h.Handle(msg(Event{Type: TypeKeyDown, Code: "Fn"}), true); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := h.Handle(msg(Event{Type: TypeKeyDown, Code: "KeyA"}), false); !errors.Is(err, ErrSpectator) {
		t.Fatalf("spectator key: %v", err)
	}
	expectCalls(t, inj)
	inj.fail = errors.New("vnc down")
	if err := h.Handle(msg(Event{Type: TypeKeyDown, Code: "KeyB"}), true); !errors.Is(err, ErrInject) {
		t.Fatalf("inject failure: %v", err)
	}
	s := h.Stats()
	if s.Spectator != 2 || s.Malformed != 2 || s.UnknownKey != 1 || s.InjectErrors != 1 || s.Injected != 0 {
		t.Fatalf("stats %+v", s)
	}
	if s.Rejected(ReasonSpectator) != 2 || s.Rejected(ReasonMalformed) != 2 || s.Rejected(ReasonUnknownKey) != 1 {
		t.Fatalf("Rejected: %+v", s)
	}
}

// FuzzHandle: any message from a controlling session is applied or rejected, never a panic, and pointer
// coordinates stay on the screen.
func FuzzHandle(f *testing.F) {
	for _, tc := range wireCases {
		f.Add(tc.bytes, true)
	}
	f.Add([]byte{0x01, 0, 0xff, 0xff, 0, 0}, false)
	fb, _ := capture.NewFramebuffer(640, 480)
	f.Fuzz(func(t *testing.T, m []byte, relative bool) {
		inj := &fakeInjector{relative: relative}
		h := NewHandler(inj, fb, Config{})
		_ = h.Handle(m, true)
		if x, y := h.Position(); x < 0 || y < 0 || x >= 640 || y >= 480 {
			t.Fatalf("position %d,%d off screen", x, y)
		}
	})
}
