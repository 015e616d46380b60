package vncsynth

import "image"

// rgb is a colour.
type rgb struct{ r, g, b uint8 }

// rect returns the rectangle of size w x h at (x, y).
func rect(x, y, w, h int) image.Rectangle { return image.Rect(x, y, x+w, y+h) }

// expand5 and expand6 quantise an 8-bit channel to 5 or 6 bits and expand it back by bit replication, as QEMU
// converts a 16-bit (RGB565) surface for a 32-bit client.
var expand5, expand6 [256]uint8

func init() {
	for i := range 256 {
		v5 := uint8(i) >> 3
		expand5[i] = v5<<3 | v5>>2
		v6 := uint8(i) >> 2
		expand6[i] = v6<<2 | v6>>4
	}
}

// picture is a BGRX image (the client's preferred layout), optionally limited to RGB565 colours.
type picture struct {
	w, h   int
	stride int
	pix    []byte
	q16    bool
}

func newPicture(w, h int, q16 bool) *picture {
	return &picture{w: w, h: h, stride: w * 4, pix: make([]byte, w*h*4), q16: q16}
}

func (p *picture) bounds() image.Rectangle { return image.Rect(0, 0, p.w, p.h) }

// quant returns c as the picture can show it.
func (p *picture) quant(c rgb) rgb {
	if p.q16 {
		return rgb{expand5[c.r], expand6[c.g], expand5[c.b]}
	}
	return c
}

// fill paints r (clipped) with c.
func (p *picture) fill(r image.Rectangle, c rgb) {
	r = r.Intersect(p.bounds())
	if r.Empty() {
		return
	}
	c = p.quant(c)
	row := p.pix[r.Min.Y*p.stride+r.Min.X*4 : r.Min.Y*p.stride+r.Max.X*4]
	for i := 0; i < len(row); i += 4 {
		row[i], row[i+1], row[i+2], row[i+3] = c.b, c.g, c.r, 0
	}
	for y := r.Min.Y + 1; y < r.Max.Y; y++ {
		copy(p.pix[y*p.stride+r.Min.X*4:], row)
	}
}

// copyFrom copies r (clipped) from src, a picture of the same size.
func (p *picture) copyFrom(src *picture, r image.Rectangle) {
	r = r.Intersect(p.bounds())
	if r.Empty() {
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		o := y*p.stride + r.Min.X*4
		copy(p.pix[o:o+r.Dx()*4], src.pix[o:])
	}
}

// at returns the colour at (x, y).
func (p *picture) at(x, y int) rgb {
	i := y*p.stride + x*4
	return rgb{p.pix[i+2], p.pix[i+1], p.pix[i]}
}
