package main

import (
	"image"

	"golang.org/x/image/font/basicfont"
)

// canvas is an RGB565 picture.
type canvas struct {
	w, h int
	pix  []uint16
}

func newCanvas(w, h int) *canvas { return &canvas{w: w, h: h, pix: make([]uint16, w*h)} }

// rgb packs 8-bit components into RGB565.
func rgb(r, g, b uint8) uint16 {
	return uint16(r>>3)<<11 | uint16(g>>2)<<5 | uint16(b>>3)
}

func (c *canvas) fill(r image.Rectangle, col uint16) {
	r = r.Intersect(image.Rect(0, 0, c.w, c.h))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := c.pix[y*c.w+r.Min.X : y*c.w+r.Max.X]
		for i := range row {
			row[i] = col
		}
	}
}

func (c *canvas) set(x, y int, col uint16) {
	if x >= 0 && y >= 0 && x < c.w && y < c.h {
		c.pix[y*c.w+x] = col
	}
}

func (c *canvas) disc(cx, cy, r int, col uint16) {
	for y := -r; y <= r; y++ {
		for x := -r; x <= r; x++ {
			if x*x+y*y <= r*r {
				c.set(cx+x, cy+y, col)
			}
		}
	}
}

// text draws s with the 7x13 font scaled by scale, top-left at (x, y), and returns the width drawn.
func (c *canvas) text(x, y int, s string, scale int, col uint16) int {
	f := basicfont.Face7x13
	mask := f.Mask.(*image.Alpha)
	gh := f.Ascent + f.Descent
	x0 := x
	for _, r := range s {
		idx := -1
		for _, rg := range f.Ranges {
			if r >= rg.Low && r < rg.High {
				idx = int(r-rg.Low) + rg.Offset
			}
		}
		if idx < 0 {
			idx = int('?' - ' ')
		}
		for gy := range gh {
			for gx := range f.Width {
				if mask.AlphaAt(gx, idx*gh+gy).A < 128 {
					continue
				}
				for sy := range scale {
					for sx := range scale {
						c.set(x+gx*scale+sx, y+gy*scale+sy, col)
					}
				}
			}
		}
		x += f.Advance * scale
	}
	return x - x0
}

// cursorShape is the pointer: X outline, o fill, hot spot at the top-left.
var cursorShape = []string{
	"X",
	"XX",
	"XoX",
	"XooX",
	"XoooX",
	"XooooX",
	"XoooooX",
	"XooooooX",
	"XoooooooX",
	"XooooooooX",
	"XoooooXXXXX",
	"XooXooX",
	"XoX XooX",
	"XX  XooX",
	"X    XooX",
	"     XooX",
	"      XX",
}

func (c *canvas) cursor(x, y int) {
	black, white := rgb(0, 0, 0), rgb(255, 255, 255)
	for dy, row := range cursorShape {
		for dx, ch := range row {
			switch ch {
			case 'X':
				c.set(x+dx, y+dy, black)
			case 'o':
				c.set(x+dx, y+dy, white)
			}
		}
	}
}
