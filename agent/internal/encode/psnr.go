package encode

import (
	"math"
)

// PSNR returns the peak signal-to-noise ratio in dB between two BGRX pictures of the same size (stride w*4),
// over the B, G and R channels; +Inf for identical pictures. Tests use it to compare a decoded picture with the
// framebuffer it came from.
func PSNR(a, b []byte, w, h int) float64 {
	n := w * h * 4
	if len(a) < n || len(b) < n {
		return 0
	}
	var sum float64
	for i := 0; i < n; i += 4 {
		for c := 0; c < 3; c++ {
			d := float64(a[i+c]) - float64(b[i+c])
			sum += d * d
		}
	}
	mse := sum / float64(w*h*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// Downscale returns a BGRX picture (stride w/f*4) of w/f x h/f pixels, each the mean of an f x f block of pix
// (stride bytes per row). Tests compare a scaled layer's decoded picture with it.
func Downscale(pix []byte, w, h, stride, f int) []byte {
	if f < 1 {
		f = 1
	}
	ow, oh := w/f, h/f
	out := make([]byte, ow*oh*4)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			var sum [3]int
			for dy := 0; dy < f; dy++ {
				row := pix[(y*f+dy)*stride:]
				for dx := 0; dx < f; dx++ {
					p := row[(x*f+dx)*4:]
					sum[0] += int(p[0])
					sum[1] += int(p[1])
					sum[2] += int(p[2])
				}
			}
			o := out[(y*ow+x)*4:]
			for c := 0; c < 3; c++ {
				o[c] = byte(sum[c] / (f * f))
			}
			o[3] = 255
		}
	}
	return out
}
