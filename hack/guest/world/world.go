// Package world encodes and decodes the demo guest's world band: what the guest sees of the world outside it —
// the shared art drive (files on the art share, see agent/internal/qemu/art.go) and the other towns it hears on
// the network play segment (agent/internal/netplay) — painted as large black and white blocks like the state
// strip of package strip, so a test can read it through VNC or from decoded video.
//
// # Layout (also for JavaScript decoders)
//
// The band occupies x = 0..799, y = 48..67 of the guest screen, just below the title bar (Origin, below): a grid
// of 80 x 2 blocks of 10 x 10 pixels, block i at column i % 80, row i / 80. White is 1, black is 0; sample around
// each block's centre and compare the mean luminance with 128, as for the state strip. Bits are read in block
// order, most significant bit first, into 20 bytes:
//
//	byte 0      magic 0x5A
//	byte 1      art drive: 0 not found, 1 mounted, 2 found but not mountable
//	byte 2      files in the art drive's top directory (capped at 255)
//	bytes 3-6   Hash of their names (uint32, big-endian)
//	byte 7      network: 0 no NIC, 1 NIC up
//	byte 8      towns heard in the last 10 s, this one not counted (capped at 255)
//	bytes 9-12  Hash of their names
//	bytes 13-14 announcements heard since boot (uint16, wraps)
//	bytes 15-16 announcements sent since boot (uint16, wraps)
//	bytes 17-18 zero
//	byte 19     the low byte of the CRC-32 (IEEE) of bytes 1-18
//
// Hash(names) is the CRC-32 (IEEE) of the names sorted bytewise and joined by "\n" (0 for none). Art file names
// are as the guest's vfat driver shows them (long names, UTF-8).
package world

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"slices"
	"strings"
)

// Geometry of the band on the guest screen.
const (
	Block   = 10
	Cols    = 80
	Rows    = 2
	OriginX = 0
	OriginY = 48
	Magic   = 0x5A
	nbytes  = 20
)

// Art drive states.
const (
	ArtNone    = 0
	ArtMounted = 1
	ArtBroken  = 2
)

// ErrNoBand means the picture holds no valid world band.
var ErrNoBand = errors.New("world: no valid world band in the picture")

// State is what the guest sees of the world.
type State struct {
	Art       uint8 // ArtNone, ArtMounted, ArtBroken
	ArtFiles  uint8
	ArtHash   uint32
	NetUp     bool
	Towns     uint8
	TownsHash uint32
	Heard     uint16
	Sent      uint16
}

// Hash is the CRC-32 of the sorted names joined by newlines; 0 for none.
func Hash(names []string) uint32 {
	if len(names) == 0 {
		return 0
	}
	s := slices.Clone(names)
	slices.Sort(s)
	return crc32.ChecksumIEEE([]byte(strings.Join(s, "\n")))
}

func (s State) bytes() [nbytes]byte {
	var b [nbytes]byte
	b[0] = Magic
	b[1], b[2] = s.Art, s.ArtFiles
	binary.BigEndian.PutUint32(b[3:], s.ArtHash)
	if s.NetUp {
		b[7] = 1
	}
	b[8] = s.Towns
	binary.BigEndian.PutUint32(b[9:], s.TownsHash)
	binary.BigEndian.PutUint16(b[13:], s.Heard)
	binary.BigEndian.PutUint16(b[15:], s.Sent)
	b[19] = byte(crc32.ChecksumIEEE(b[1:19]))
	return b
}

// Bits returns the band's blocks in block order: true is white.
func (s State) Bits() [Cols * Rows]bool {
	b := s.bytes()
	var bits [Cols * Rows]bool
	for i := range nbytes * 8 {
		bits[i] = b[i/8]&(0x80>>(i%8)) != 0
	}
	return bits
}

// BlockRect returns the rectangle of block i on the guest screen.
func BlockRect(i int) image.Rectangle {
	x, y := OriginX+Block*(i%Cols), OriginY+Block*(i/Cols)
	return image.Rect(x, y, x+Block, y+Block)
}

// Read decodes the band; lum returns the luminance (0-255) of the guest pixel (x, y), and the picture must be at
// least 800 x 68 pixels.
func Read(lum func(x, y int) uint8, width, height int) (State, error) {
	if width < OriginX+Cols*Block || height < OriginY+Rows*Block {
		return State{}, ErrNoBand
	}
	var b [nbytes]byte
	for i := range nbytes * 8 {
		c := BlockRect(i).Min.Add(image.Pt(Block/2, Block/2))
		sum := int(lum(c.X, c.Y)) + int(lum(c.X-2, c.Y-2)) + int(lum(c.X+2, c.Y+2))
		if sum >= 3*128 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	if b[0] != Magic || b[19] != byte(crc32.ChecksumIEEE(b[1:19])) {
		return State{}, ErrNoBand
	}
	return State{Art: b[1], ArtFiles: b[2], ArtHash: binary.BigEndian.Uint32(b[3:]), NetUp: b[7] == 1,
		Towns: b[8], TownsHash: binary.BigEndian.Uint32(b[9:]), Heard: binary.BigEndian.Uint16(b[13:]),
		Sent: binary.BigEndian.Uint16(b[15:])}, nil
}
