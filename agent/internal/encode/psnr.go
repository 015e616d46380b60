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
