package input

import (
	"encoding/binary"
	"fmt"
)

// Type is a message type byte.
type Type uint8

// The message types of proto/loco/v1/input.md.
const (
	TypePointerAbs Type = 0x01 // 01 buttons:u8 x:u16 y:u16
	TypePointerRel Type = 0x02 // 02 buttons:u8 dx:i16 dy:i16
	TypeWheel      Type = 0x03 // 03 buttons:u8 dx:i8 dy:i8
	TypeKeyDown    Type = 0x04 // 04 n:u8 code:n bytes
	TypeKeyUp      Type = 0x05 // 05 n:u8 code:n bytes
	TypeReleaseAll Type = 0x06 // 06
)

// MaxCodeLen is the longest KeyboardEvent.code accepted.
const MaxCodeLen = 32

// String returns the protocol name of the type.
func (t Type) String() string {
	switch t {
	case TypePointerAbs:
		return "pointer-abs"
	case TypePointerRel:
		return "pointer-rel"
	case TypeWheel:
		return "wheel"
	case TypeKeyDown:
		return "key-down"
	case TypeKeyUp:
		return "key-up"
	case TypeReleaseAll:
		return "release-all"
	default:
		return fmt.Sprintf("unknown(0x%02x)", uint8(t))
	}
}

// Event is one decoded message.
type Event struct {
	Type Type
	// Buttons is the RFB button mask held after the event (bit 0 left, 1 middle, 2 right); pointer and wheel only.
	Buttons uint8
	// X, Y: pointer-abs coordinates, pointer-rel deltas, or wheel notches (Y > 0 scrolls down, X > 0 right).
	X, Y int
	// Code is the KeyboardEvent.code of a key event.
	Code string
	// Key is the code's scan code and keysym; Key.Known() is false for an unknown code.
	Key Key
}

// Decode parses one binary message. A message of the wrong length, an unknown type or a code longer than
// [MaxCodeLen] gives an error wrapping [ErrMalformed]. A key event with an unknown code is returned with the error
// [ErrUnknownKey] (and Event.Code set). Decoding a known key or any other event does not allocate.
func Decode(msg []byte) (Event, error) {
	if len(msg) == 0 {
		return Event{}, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	ev := Event{Type: Type(msg[0])}
	want := 0
	switch ev.Type {
	case TypePointerAbs, TypePointerRel:
		want = 6
	case TypeWheel:
		want = 4
	case TypeKeyDown, TypeKeyUp:
		if len(msg) < 2 {
			return Event{}, fmt.Errorf("%w: %s of %d bytes", ErrMalformed, ev.Type, len(msg))
		}
		n := int(msg[1])
		if n > MaxCodeLen {
			return Event{}, fmt.Errorf("%w: %s code of %d bytes (max %d)", ErrMalformed, ev.Type, n, MaxCodeLen)
		}
		want = 2 + n
	case TypeReleaseAll:
		want = 1
	default:
		return Event{}, fmt.Errorf("%w: unknown type 0x%02x", ErrMalformed, msg[0])
	}
	if len(msg) != want {
		return Event{}, fmt.Errorf("%w: %s of %d bytes, want %d", ErrMalformed, ev.Type, len(msg), want)
	}
	switch ev.Type {
	case TypePointerAbs:
		ev.Buttons = msg[1]
		ev.X = int(binary.BigEndian.Uint16(msg[2:]))
		ev.Y = int(binary.BigEndian.Uint16(msg[4:]))
	case TypePointerRel:
		ev.Buttons = msg[1]
		ev.X = int(int16(binary.BigEndian.Uint16(msg[2:])))
		ev.Y = int(int16(binary.BigEndian.Uint16(msg[4:])))
	case TypeWheel:
		ev.Buttons = msg[1]
		ev.X = int(int8(msg[2]))
		ev.Y = int(int8(msg[3]))
	case TypeKeyDown, TypeKeyUp:
		code := msg[2:]
		for _, c := range code {
			if c < 0x20 || c > 0x7e {
				return Event{}, fmt.Errorf("%w: %s code is not printable ASCII", ErrMalformed, ev.Type)
			}
		}
		i, ok := keyIndex[string(code)]
		if !ok {
			ev.Code = string(code)
			return ev, fmt.Errorf("%w: %q", ErrUnknownKey, ev.Code)
		}
		ev.Key = keys[i]
		ev.Code = ev.Key.Code
	}
	return ev, nil
}

// Encode appends the wire bytes of ev to dst (the browser's encoding; for tests and Go peers). Coordinates and
// deltas are truncated to their wire widths; a code longer than MaxCodeLen is cut.
func Encode(dst []byte, ev Event) []byte {
	dst = append(dst, byte(ev.Type))
	switch ev.Type {
	case TypePointerAbs, TypePointerRel:
		dst = append(dst, ev.Buttons)
		dst = binary.BigEndian.AppendUint16(dst, uint16(ev.X))
		dst = binary.BigEndian.AppendUint16(dst, uint16(ev.Y))
	case TypeWheel:
		dst = append(dst, ev.Buttons, byte(int8(ev.X)), byte(int8(ev.Y)))
	case TypeKeyDown, TypeKeyUp:
		code := ev.Code
		if len(code) > MaxCodeLen {
			code = code[:MaxCodeLen]
		}
		dst = append(dst, byte(len(code)))
		dst = append(dst, code...)
	}
	return dst
}
