package input

import (
	"bytes"
	"errors"
	"testing"
)

// The exact bytes of proto/loco/v1/input.md.
var wireCases = []struct {
	name  string
	bytes []byte
	ev    Event
}{
	{"pointer-abs", []byte{0x01, 0x01, 0x01, 0x90, 0x00, 0xc8}, Event{Type: TypePointerAbs, Buttons: 1, X: 400, Y: 200}},
	{"pointer-abs corner", []byte{0x01, 0x00, 0xff, 0xff, 0xff, 0xff}, Event{Type: TypePointerAbs, X: 65535, Y: 65535}},
	{"pointer-rel", []byte{0x02, 0x04, 0xff, 0xfb, 0x00, 0x0a}, Event{Type: TypePointerRel, Buttons: 4, X: -5, Y: 10}},
	{"pointer-rel extremes", []byte{0x02, 0x00, 0x80, 0x00, 0x7f, 0xff}, Event{Type: TypePointerRel, X: -32768, Y: 32767}},
	{"wheel down", []byte{0x03, 0x00, 0x00, 0x01}, Event{Type: TypeWheel, Y: 1}},
	{"wheel up-left", []byte{0x03, 0x02, 0xfe, 0xfd}, Event{Type: TypeWheel, Buttons: 2, X: -2, Y: -3}},
	{"key-down KeyA", []byte{0x04, 0x04, 'K', 'e', 'y', 'A'}, Event{Type: TypeKeyDown, Code: "KeyA", Key: Key{"KeyA", 0x1e, 'a'}}},
	{"key-up ShiftLeft", append([]byte{0x05, 0x09}, "ShiftLeft"...), Event{Type: TypeKeyUp, Code: "ShiftLeft", Key: Key{"ShiftLeft", 0x2a, 0xffe1}}},
	{"key-down Enter", append([]byte{0x04, 0x05}, "Enter"...), Event{Type: TypeKeyDown, Code: "Enter", Key: Key{"Enter", 0x1c, 0xff0d}}},
	{"release-all", []byte{0x06}, Event{Type: TypeReleaseAll}},
}

func TestDecodeWire(t *testing.T) {
	for _, tc := range wireCases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Decode(tc.bytes)
			if err != nil {
				t.Fatal(err)
			}
			if ev != tc.ev {
				t.Fatalf("Decode = %+v, want %+v", ev, tc.ev)
			}
			if got := Encode(nil, tc.ev); !bytes.Equal(got, tc.bytes) {
				t.Fatalf("Encode = % x, want % x", got, tc.bytes)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	long := append([]byte{0x04, 33}, bytes.Repeat([]byte{'A'}, 33)...)
	cases := []struct {
		name string
		msg  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"unknown type", []byte{0x07}, ErrMalformed},
		{"type zero", []byte{0x00, 1, 2}, ErrMalformed},
		{"pointer-abs short", []byte{0x01, 0, 0, 0, 0}, ErrMalformed},
		{"pointer-abs long", []byte{0x01, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"pointer-rel short", []byte{0x02, 0}, ErrMalformed},
		{"wheel long", []byte{0x03, 0, 0, 0, 0}, ErrMalformed},
		{"key without length", []byte{0x04}, ErrMalformed},
		{"key length mismatch", []byte{0x04, 5, 'K', 'e', 'y'}, ErrMalformed},
		{"key code too long", long, ErrMalformed},
		{"key code not ASCII", []byte{0x05, 2, 0xc3, 0xa9}, ErrMalformed},
		{"release-all with payload", []byte{0x06, 0}, ErrMalformed},
		{"unknown code", append([]byte{0x04, 7}, "KeyÆÆÆ"[:7]...), ErrMalformed},
		{"unknown printable code", append([]byte{0x04, 6}, "Launch"...), ErrUnknownKey},
		{"empty code", []byte{0x05, 0}, ErrUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.msg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode(% x) error %v, want %v", tc.msg, err, tc.want)
			}
		})
	}
}

func TestDecodeAllocations(t *testing.T) {
	msgs := [][]byte{wireCases[0].bytes, wireCases[2].bytes, wireCases[6].bytes, wireCases[9].bytes}
	allocs := testing.AllocsPerRun(100, func() {
		for _, m := range msgs {
			if _, err := Decode(m); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per decode round", allocs)
	}
}

func TestKeymap(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys() {
		if seen[k.Code] {
			t.Errorf("duplicate code %s", k.Code)
		}
		seen[k.Code] = true
		if !k.Known() || k.Keysym == 0 || k.Scancode > 0xff || k.Scancode == 0x80 {
			t.Errorf("bad entry %+v", k)
		}
	}
	// The full PC keyboard is there.
	for _, code := range []string{"KeyA", "KeyZ", "Digit0", "Digit9", "F1", "F12", "ShiftLeft", "ShiftRight",
		"ControlLeft", "ControlRight", "AltLeft", "AltRight", "MetaLeft", "ArrowUp", "ArrowDown", "ArrowLeft",
		"ArrowRight", "Numpad0", "Numpad9", "NumpadEnter", "NumpadDivide", "Insert", "Delete", "Home", "End",
		"PageUp", "PageDown", "Minus", "Equal", "BracketLeft", "Semicolon", "Quote", "Backquote", "Backslash",
		"Comma", "Period", "Slash", "Space", "Enter", "Escape", "Tab", "Backspace", "CapsLock", "Pause"} {
		if _, ok := Lookup(code); !ok {
			t.Errorf("%s missing", code)
		}
	}
	// Extended keys carry QEMU's 0x80 bit.
	for code, want := range map[string]uint32{"ArrowUp": 0xc8, "ControlRight": 0x9d, "NumpadEnter": 0x9c,
		"Delete": 0xd3, "KeyA": 0x1e, "Numpad8": 0x48} {
		if k, _ := Lookup(code); k.Scancode != want {
			t.Errorf("%s scan code 0x%x, want 0x%x", code, k.Scancode, want)
		}
	}
}

// FuzzDecode: any bytes decode without panicking; what decodes encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, tc := range wireCases {
		f.Add(tc.bytes)
	}
	f.Add([]byte{})
	f.Add([]byte{0x04, 0xff})
	f.Add([]byte{0x05, 3, 'F', '1', '3'})
	f.Fuzz(func(t *testing.T, msg []byte) {
		ev, err := Decode(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("error %v is neither malformed nor unknown key", err)
			}
			return
		}
		if got := Encode(nil, ev); !bytes.Equal(got, msg) {
			t.Fatalf("Encode(Decode(% x)) = % x", msg, got)
		}
	})
}
