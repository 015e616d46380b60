package vncsynth

import "image"

// Stamp layout (see the package documentation).
const (
	StampBlock  = 16                       // block size in pixels
	StampBits   = 16                       // frame number bits
	StampBlocks = 2 + StampBits            // white reference, black reference, bits
	StampWidth  = StampBlocks * StampBlock // 288
	StampHeight = StampBlock               // 16
	// StampMinContrast is the least difference between the white and black references of a valid stamp.
	StampMinContrast = 64
)

// StampRect is where the stamp is drawn.
var StampRect = image.Rect(0, 0, StampWidth, StampHeight)

var (
	white = rgb{255, 255, 255}
	black = rgb{0, 0, 0}
)

// drawStamp paints frame's low 16 bits.
func (p *picture) drawStamp(frame uint64) {
	p.fill(rect(0, 0, StampBlock, StampBlock), white)
	p.fill(rect(StampBlock, 0, StampBlock, StampBlock), black)
	for i := range StampBits {
		c := black
		if frame>>(StampBits-1-i)&1 == 1 {
			c = white
		}
		p.fill(rect((2+i)*StampBlock, 0, StampBlock, StampBlock), c)
	}
}

// DecodeStamp reads the frame stamp from the top-left corner of an image whose rows are stride bytes apart, with
// bytesPerPixel bytes per pixel of which the first three are colour channels in any order (BGRX from package
// capture, RGBA from a canvas or image.RGBA). It returns false when the image is too small or the references
// differ by less than StampMinContrast.
func DecodeStamp(pix []byte, stride, bytesPerPixel int) (stamp uint16, ok bool) {
	if bytesPerPixel < 3 || stride < StampWidth*bytesPerPixel || len(pix) < (StampHeight-1)*stride+StampWidth*bytesPerPixel {
		return 0, false
	}
	mean := func(block int) int {
		sum := 0
		for y := 4; y < 12; y++ {
			o := y*stride + (block*StampBlock+4)*bytesPerPixel
			for x := 0; x < 8; x++ {
				i := o + x*bytesPerPixel
				sum += int(pix[i]) + int(pix[i+1]) + int(pix[i+2])
			}
		}
		return sum / (64 * 3)
	}
	w, k := mean(0), mean(1)
	if w-k < StampMinContrast {
		return 0, false
	}
	mid := (w + k) / 2
	var n uint16
	for i := range StampBits {
		n <<= 1
		if mean(2+i) > mid {
			n |= 1
		}
	}
	return n, true
}
