// Package strip encodes and decodes the demo guest's state strip: a band of large black and white blocks the
// guest paints at the bottom of its 800x600 screen, so a test (or the browser) can read, from any picture of the
// screen — a VNC framebuffer, a decoded H.264/VP8 frame, a screenshot — where the guest thinks the pointer is,
// which buttons it saw, how many keys arrived and which frame is shown.
//
// # Layout (also for JavaScript decoders)
//
// The strip occupies the rectangle x = 0..799, y = 580..599 of the guest screen (Origin, below). It is a grid of
// Cols x Rows = 80 x 2 blocks of Block x Block = 10 x 10 pixels. Block i (0-based) sits at column i % 80, row
// i / 80, so its top-left pixel is (10*(i%80), 580 + 10*(i/80)) and its centre (5 + 10*(i%80), 585 + 10*(i/80)).
// A white block is a 1 bit, a black block a 0 bit; decode by sampling a few pixels around each centre and
// comparing the mean luminance (0.299 R + 0.587 G + 0.114 B) with 128. Lossy video codecs keep 10x10 flat blocks
// intact well enough for this even at low bit rates.
//
// Bits are read in block order and grouped, most significant bit first, into 17 bytes:
//
//	byte 0      magic 0xA5
//	bytes 1-2   pointer x (uint16, big-endian), guest screen pixels
//	bytes 3-4   pointer y (uint16)
//	byte 5      buttons held: bit 0 left, bit 1 middle, bit 2 right (the RFB mask order)
//	bytes 6-7   keys pressed since boot (uint16, wraps)
//	bytes 8-9   Linux input key code (KEY_*) of the last key pressed, 0 before any
//	bytes 10-13 frame counter (uint32), incremented for every frame the guest draws
//	bytes 14-15 clicks since boot (uint16, button presses of any button)
//	byte 16     CRC-8 (polynomial 0x07, initial value 0, no reflection) of bytes 1-15
//
// The remaining 24 blocks are black. A picture whose magic or CRC does not match holds no valid strip (e.g. a
// frame torn between two updates, or a screen that is not the demo guest's): Decode reports ErrNoStrip.
package strip

import (
	"encoding/binary"
	"image"
)

// Geometry of the strip on the guest screen.
const (
	// Block is the side of one block in pixels.
	Block = 10
	// Cols is the number of blocks per row.
	Cols = 80
	// Rows is the number of block rows.
	Rows = 2
	// OriginX and OriginY are the strip's top-left pixel.
	OriginX = 0
	OriginY = 580
	// Magic is the first byte of every valid strip.
	Magic = 0xA5
	// payloadBytes is the number of bytes carried, magic and CRC included.
	payloadBytes = 17
)

// Buttons in State.Buttons (the RFB mask order).
const (
	ButtonLeft   = 1 << 0
	ButtonMiddle = 1 << 1
	ButtonRight  = 1 << 2
)

// State is what the guest reports about itself.
type State struct {
	// X and Y are the pointer position in guest screen pixels.
	X, Y uint16
	// Buttons is the mask of buttons held (ButtonLeft, ...).
	Buttons uint8
	// Keys is the number of key presses since boot.
	Keys uint16
	// LastKey is the Linux input code of the last key pressed.
	LastKey uint16
	// Frame counts the frames the guest has drawn.
	Frame uint32
	// Clicks counts button presses since boot.
	Clicks uint16
}

// Bits returns the strip's blocks in block order: true is white.
func (s State) Bits() [Cols * Rows]bool {
	var b [payloadBytes]byte
	b[0] = Magic
	binary.BigEndian.PutUint16(b[1:], s.X)
	binary.BigEndian.PutUint16(b[3:], s.Y)
	b[5] = s.Buttons
	binary.BigEndian.PutUint16(b[6:], s.Keys)
	binary.BigEndian.PutUint16(b[8:], s.LastKey)
	binary.BigEndian.PutUint32(b[10:], s.Frame)
	binary.BigEndian.PutUint16(b[14:], s.Clicks)
	b[16] = crc8(b[1:16])
	var bits [Cols * Rows]bool
	for i := range payloadBytes * 8 {
		bits[i] = b[i/8]&(0x80>>(i%8)) != 0
	}
	return bits
}

// BlockRect returns the rectangle of block i on the guest screen.
func BlockRect(i int) image.Rectangle {
	x := OriginX + Block*(i%Cols)
	y := OriginY + Block*(i/Cols)
	return image.Rect(x, y, x+Block, y+Block)
}

// Decode reads the strip from a picture of the guest screen whose top-left pixel is the guest's (0, 0). The
// picture may be larger than the guest screen but not smaller than the strip.
func Decode(img image.Image) (State, error) {
	return DecodeFunc(func(x, y int) uint8 {
		p := img.Bounds().Min
		r, g, b, _ := img.At(p.X+x, p.Y+y).RGBA()
		return uint8((299*r + 587*g + 114*b) / 1000 >> 8)
	}, img.Bounds().Dx(), img.Bounds().Dy())
}

// DecodeFunc is Decode for any pixel source: lum returns the luminance (0-255) of the guest pixel (x, y), and
// width and height are the picture's size.
func DecodeFunc(lum func(x, y int) uint8, width, height int) (State, error) {
	if width < OriginX+Cols*Block || height < OriginY+Rows*Block {
		return State{}, ErrTooSmall
	}
	var b [payloadBytes]byte
	for i := range payloadBytes * 8 {
		r := BlockRect(i)
		cx, cy := r.Min.X+Block/2, r.Min.Y+Block/2
		sum := 0
		for _, d := range [][2]int{{0, 0}, {-2, -2}, {2, -2}, {-2, 2}, {2, 2}} {
			sum += int(lum(cx+d[0], cy+d[1]))
		}
		if sum/5 >= 128 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	if b[0] != Magic || crc8(b[1:16]) != b[16] {
		return State{}, ErrNoStrip
	}
	return State{
		X:       binary.BigEndian.Uint16(b[1:]),
		Y:       binary.BigEndian.Uint16(b[3:]),
		Buttons: b[5],
		Keys:    binary.BigEndian.Uint16(b[6:]),
		LastKey: binary.BigEndian.Uint16(b[8:]),
		Frame:   binary.BigEndian.Uint32(b[10:]),
		Clicks:  binary.BigEndian.Uint16(b[14:]),
	}, nil
}

// crc8 is CRC-8 with polynomial x^8 + x^2 + x + 1 (0x07), initial value 0.
func crc8(p []byte) byte {
	var c byte
	for _, v := range p {
		c ^= v
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}
