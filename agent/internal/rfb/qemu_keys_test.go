package rfb

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/input"
)

// qcodes is what QEMU 7.2 calls each key (its QKeyCode names), as an independent check of the scan code table.
var qcodes = map[string]string{
	"Escape": "esc", "Minus": "minus", "Equal": "equal", "Backspace": "backspace", "Tab": "tab",
	"BracketLeft": "bracket_left", "BracketRight": "bracket_right", "Enter": "ret", "ControlLeft": "ctrl",
	"Semicolon": "semicolon", "Quote": "apostrophe", "Backquote": "grave_accent", "ShiftLeft": "shift",
	"Backslash": "backslash", "Comma": "comma", "Period": "dot", "Slash": "slash", "ShiftRight": "shift_r",
	"NumpadMultiply": "kp_multiply", "AltLeft": "alt", "Space": "spc", "CapsLock": "caps_lock",
	"NumLock": "num_lock", "ScrollLock": "scroll_lock", "NumpadSubtract": "kp_subtract", "NumpadAdd": "kp_add",
	"NumpadDecimal": "kp_decimal", "IntlBackslash": "less", "NumpadEqual": "kp_equals", "IntlRo": "ro",
	"IntlYen": "yen", "NumpadEnter": "kp_enter", "ControlRight": "ctrl_r", "NumpadDivide": "kp_divide",
	"PrintScreen": "sysrq", "AltRight": "alt_r", "Home": "home", "ArrowUp": "up", "PageUp": "pgup",
	"ArrowLeft": "left", "ArrowRight": "right", "End": "end", "ArrowDown": "down", "PageDown": "pgdn",
	"Insert": "insert", "Delete": "delete", "MetaLeft": "meta_l", "MetaRight": "meta_r", "OSLeft": "meta_l",
	"OSRight": "meta_r", "ContextMenu": "compose", "Pause": "pause",
}

func expectedQcode(code string) string {
	if q, ok := qcodes[code]; ok {
		return q
	}
	switch {
	case strings.HasPrefix(code, "Key"):
		return strings.ToLower(code[3:])
	case strings.HasPrefix(code, "Digit"):
		return code[5:]
	case strings.HasPrefix(code, "Numpad"):
		return "kp_" + code[6:]
	case strings.HasPrefix(code, "F"):
		return "f" + code[1:]
	}
	return "?"
}

// TestQEMUKeymap sends every key of package input's table to a real QEMU as extended key events and checks the
// key QEMU sees: its VNC trace shows the keysym, the key code and the QKeyCode name it derives from the code.
func TestQEMUKeymap(t *testing.T) {
	q := startQEMU(t)
	c := New(Config{Addr: "unix:" + q.sock, Framebuffer: &capture.Framebuffer{}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, 20*time.Second, "extended keys", c.ExtendedKeys)
	keys := input.Keys()
	for _, k := range keys {
		if err := c.Key(true, k.Keysym, k.Scancode); err != nil {
			t.Fatal(err)
		}
		if err := c.Key(false, k.Keysym, k.Scancode); err != nil {
			t.Fatal(err)
		}
	}
	last := keys[len(keys)-1]
	q.waitTrace(t, keyTrace(last, 0))
	trace := q.traceText()
	for _, k := range keys {
		for _, down := range []int{1, 0} {
			want := keyTrace(k, down)
			if !strings.Contains(trace, want) {
				t.Errorf("%s: QEMU trace has no %q", k.Code, want)
			}
		}
	}
	if t.Failed() {
		t.Logf("trace:\n%s", trace)
	}
}

// keyTrace is QEMU's vnc_key_event_ext trace line for a key.
func keyTrace(k input.Key, down int) string {
	return fmt.Sprintf("down %d, sym 0x%x, keycode 0x%x [%s]", down, k.Keysym, k.Scancode, expectedQcode(k.Code))
}
