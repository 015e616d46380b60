package tightproxy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// pixelFormat is the RFB PIXEL_FORMAT structure.
type pixelFormat struct {
	BPP, Depth, BigEndian, TrueColour uint8
	RedMax, GreenMax, BlueMax         uint16
	RedShift, GreenShift, BlueShift   uint8
}

func (p pixelFormat) bytes() []byte {
	b := []byte{p.BPP, p.Depth, p.BigEndian, p.TrueColour}
	b = binary.BigEndian.AppendUint16(b, p.RedMax)
	b = binary.BigEndian.AppendUint16(b, p.GreenMax)
	b = binary.BigEndian.AppendUint16(b, p.BlueMax)
	return append(b, p.RedShift, p.GreenShift, p.BlueShift, 0, 0, 0)
}

func parsePixelFormat(b []byte) pixelFormat {
	return pixelFormat{
		BPP: b[0], Depth: b[1], BigEndian: b[2], TrueColour: b[3],
		RedMax: binary.BigEndian.Uint16(b[4:]), GreenMax: binary.BigEndian.Uint16(b[6:]), BlueMax: binary.BigEndian.Uint16(b[8:]),
		RedShift: b[10], GreenShift: b[11], BlueShift: b[12],
	}
}

// bgrx is the upstream format: 32 bpp little endian, so each pixel is B, G, R, X in memory.
var bgrx = pixelFormat{BPP: 32, Depth: 24, TrueColour: 1, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 16, GreenShift: 8, BlueShift: 0}

// supported reports whether the proxy can encode for a client format: 32-bit little-endian true colour, 8-bit
// channels in the low three bytes.
func (p pixelFormat) supported() bool {
	ok := func(max uint16, shift uint8) bool { return max == 255 && shift%8 == 0 && shift <= 16 }
	return p.BPP == 32 && p.TrueColour == 1 && p.BigEndian == 0 &&
		ok(p.RedMax, p.RedShift) && ok(p.GreenMax, p.GreenShift) && ok(p.BlueMax, p.BlueShift)
}

func readFull(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// clientHandshake does the client side of the RFB 3.8 handshake with security type None and a shared ClientInit,
// and returns the framebuffer size.
func clientHandshake(r *bufio.Reader, w io.Writer) (width, height int, err error) {
	ver, err := readFull(r, 12)
	if err != nil {
		return 0, 0, fmt.Errorf("read version: %w", err)
	}
	if string(ver[:4]) != "RFB " {
		return 0, 0, fmt.Errorf("%w: version %q", ErrProtocol, ver)
	}
	if _, err := w.Write([]byte("RFB 003.008\n")); err != nil {
		return 0, 0, fmt.Errorf("write version: %w", err)
	}
	n, err := r.ReadByte()
	if err != nil || n == 0 {
		return 0, 0, fmt.Errorf("read security types (%d): %w", n, err)
	}
	types, err := readFull(r, int(n))
	if err != nil {
		return 0, 0, fmt.Errorf("read security types: %w", err)
	}
	none := false
	for _, t := range types {
		none = none || t == 1
	}
	if !none {
		return 0, 0, ErrAuth
	}
	if _, err := w.Write([]byte{1}); err != nil {
		return 0, 0, fmt.Errorf("choose security: %w", err)
	}
	res, err := readFull(r, 4)
	if err != nil || binary.BigEndian.Uint32(res) != 0 {
		return 0, 0, fmt.Errorf("security result %v: %w", res, err)
	}
	if _, err := w.Write([]byte{1}); err != nil {
		return 0, 0, fmt.Errorf("client init: %w", err)
	}
	init, err := readFull(r, 24)
	if err != nil {
		return 0, 0, fmt.Errorf("read server init: %w", err)
	}
	if _, err := readFull(r, int(binary.BigEndian.Uint32(init[20:]))); err != nil {
		return 0, 0, fmt.Errorf("read desktop name: %w", err)
	}
	return int(binary.BigEndian.Uint16(init[0:])), int(binary.BigEndian.Uint16(init[2:])), nil
}

// serverHandshake does the server side: RFB 3.8, security None, and a ServerInit with the given size and format.
func serverHandshake(r *bufio.Reader, w io.Writer, width, height int, pf pixelFormat, name string) error {
	if _, err := w.Write([]byte("RFB 003.008\n")); err != nil {
		return fmt.Errorf("write version: %w", err)
	}
	if _, err := readFull(r, 12); err != nil {
		return fmt.Errorf("read client version: %w", err)
	}
	if _, err := w.Write([]byte{1, 1}); err != nil {
		return fmt.Errorf("write security types: %w", err)
	}
	if t, err := r.ReadByte(); err != nil || t != 1 {
		return fmt.Errorf("%w: security type %d (%v)", ErrProtocol, t, err)
	}
	if _, err := w.Write([]byte{0, 0, 0, 0}); err != nil {
		return fmt.Errorf("write security result: %w", err)
	}
	if _, err := r.ReadByte(); err != nil {
		return fmt.Errorf("read client init: %w", err)
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(width))
	b = binary.BigEndian.AppendUint16(b, uint16(height))
	b = append(b, pf.bytes()...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write server init: %w", err)
	}
	return nil
}
