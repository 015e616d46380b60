package input

// Key is a key's codes for VNC.
type Key struct {
	// Code is the KeyboardEvent.code ("KeyA").
	Code string
	// Scancode is the XT (set 1) make code in QEMU's encoding: one byte, 0x80|code for 0xE0-prefixed keys
	// (ArrowUp, E0 48, is 0xC8); Pause is 0xC6 as in QEMU.
	Scancode uint32
	// Keysym is the X keysym for servers without extended key events (unshifted: "KeyA" is 'a').
	Keysym uint32
}

// Known reports whether the key was found.
func (k Key) Known() bool { return k.Scancode != 0 }

// Lookup returns the key of a KeyboardEvent.code.
func Lookup(code string) (Key, bool) {
	i, ok := keyIndex[code]
	if !ok {
		return Key{}, false
	}
	return keys[i], true
}

// Keys returns every known key, in table order (a copy).
func Keys() []Key { return append([]Key(nil), keys...) }

// keys is the full PC keyboard (US layout positions; KeyboardEvent.code names positions, not characters).
var keys = []Key{
	{"Escape", 0x01, 0xff1b},
	{"Digit1", 0x02, '1'}, {"Digit2", 0x03, '2'}, {"Digit3", 0x04, '3'}, {"Digit4", 0x05, '4'},
	{"Digit5", 0x06, '5'}, {"Digit6", 0x07, '6'}, {"Digit7", 0x08, '7'}, {"Digit8", 0x09, '8'},
	{"Digit9", 0x0a, '9'}, {"Digit0", 0x0b, '0'},
	{"Minus", 0x0c, '-'}, {"Equal", 0x0d, '='}, {"Backspace", 0x0e, 0xff08}, {"Tab", 0x0f, 0xff09},
	{"KeyQ", 0x10, 'q'}, {"KeyW", 0x11, 'w'}, {"KeyE", 0x12, 'e'}, {"KeyR", 0x13, 'r'}, {"KeyT", 0x14, 't'},
	{"KeyY", 0x15, 'y'}, {"KeyU", 0x16, 'u'}, {"KeyI", 0x17, 'i'}, {"KeyO", 0x18, 'o'}, {"KeyP", 0x19, 'p'},
	{"BracketLeft", 0x1a, '['}, {"BracketRight", 0x1b, ']'}, {"Enter", 0x1c, 0xff0d}, {"ControlLeft", 0x1d, 0xffe3},
	{"KeyA", 0x1e, 'a'}, {"KeyS", 0x1f, 's'}, {"KeyD", 0x20, 'd'}, {"KeyF", 0x21, 'f'}, {"KeyG", 0x22, 'g'},
	{"KeyH", 0x23, 'h'}, {"KeyJ", 0x24, 'j'}, {"KeyK", 0x25, 'k'}, {"KeyL", 0x26, 'l'},
	{"Semicolon", 0x27, ';'}, {"Quote", 0x28, '\''}, {"Backquote", 0x29, '`'}, {"ShiftLeft", 0x2a, 0xffe1},
	{"Backslash", 0x2b, '\\'},
	{"KeyZ", 0x2c, 'z'}, {"KeyX", 0x2d, 'x'}, {"KeyC", 0x2e, 'c'}, {"KeyV", 0x2f, 'v'}, {"KeyB", 0x30, 'b'},
	{"KeyN", 0x31, 'n'}, {"KeyM", 0x32, 'm'},
	{"Comma", 0x33, ','}, {"Period", 0x34, '.'}, {"Slash", 0x35, '/'}, {"ShiftRight", 0x36, 0xffe2},
	{"NumpadMultiply", 0x37, 0xffaa}, {"AltLeft", 0x38, 0xffe9}, {"Space", 0x39, ' '}, {"CapsLock", 0x3a, 0xffe5},
	{"F1", 0x3b, 0xffbe}, {"F2", 0x3c, 0xffbf}, {"F3", 0x3d, 0xffc0}, {"F4", 0x3e, 0xffc1}, {"F5", 0x3f, 0xffc2},
	{"F6", 0x40, 0xffc3}, {"F7", 0x41, 0xffc4}, {"F8", 0x42, 0xffc5}, {"F9", 0x43, 0xffc6}, {"F10", 0x44, 0xffc7},
	{"NumLock", 0x45, 0xff7f}, {"ScrollLock", 0x46, 0xff14},
	{"Numpad7", 0x47, 0xffb7}, {"Numpad8", 0x48, 0xffb8}, {"Numpad9", 0x49, 0xffb9}, {"NumpadSubtract", 0x4a, 0xffad},
	{"Numpad4", 0x4b, 0xffb4}, {"Numpad5", 0x4c, 0xffb5}, {"Numpad6", 0x4d, 0xffb6}, {"NumpadAdd", 0x4e, 0xffab},
	{"Numpad1", 0x4f, 0xffb1}, {"Numpad2", 0x50, 0xffb2}, {"Numpad3", 0x51, 0xffb3},
	{"Numpad0", 0x52, 0xffb0}, {"NumpadDecimal", 0x53, 0xffae},
	{"IntlBackslash", 0x56, '<'}, {"F11", 0x57, 0xffc8}, {"F12", 0x58, 0xffc9}, {"NumpadEqual", 0x59, 0xffbd},
	{"IntlRo", 0x73, '\\'}, {"IntlYen", 0x7d, 0xa5},
	// 0xE0-prefixed keys: 0x80|code.
	{"NumpadEnter", 0x9c, 0xff8d}, {"ControlRight", 0x9d, 0xffe4}, {"NumpadDivide", 0xb5, 0xffaf},
	{"PrintScreen", 0xb7, 0xff61}, {"AltRight", 0xb8, 0xffea},
	{"Home", 0xc7, 0xff50}, {"ArrowUp", 0xc8, 0xff52}, {"PageUp", 0xc9, 0xff55}, {"ArrowLeft", 0xcb, 0xff51},
	{"ArrowRight", 0xcd, 0xff53}, {"End", 0xcf, 0xff57}, {"ArrowDown", 0xd0, 0xff54}, {"PageDown", 0xd1, 0xff56},
	{"Insert", 0xd2, 0xff63}, {"Delete", 0xd3, 0xffff},
	{"MetaLeft", 0xdb, 0xffeb}, {"MetaRight", 0xdc, 0xffec}, {"ContextMenu", 0xdd, 0xff67},
	// Pause is E1 1D 45 on the wire; QEMU numbers it 0xC6.
	{"Pause", 0xc6, 0xff13},
	// Older browsers' names for the Windows keys.
	{"OSLeft", 0xdb, 0xffeb}, {"OSRight", 0xdc, 0xffec},
}

// keyIndex maps a code to its index in keys.
var keyIndex = func() map[string]int {
	m := make(map[string]int, len(keys))
	for i, k := range keys {
		m[k.Code] = i
	}
	return m
}()
