package encode

import "math"

// DominantFrequency estimates the frequency in Hz of the strongest tone between 20 Hz and 4 kHz in mono samples
// at the given rate: a Goertzel scan in 5 Hz steps, refined in 0.25 Hz steps around the peak. Unlike counting zero
// crossings, a short glitch in the signal barely moves the result.
func DominantFrequency(samples []float64, rate int) float64 {
	if len(samples) == 0 || rate <= 0 {
		return 0
	}
	best, bestP := 0.0, -1.0
	scan := func(from, to, step float64) {
		for f := from; f <= to; f += step {
			if p := goertzel(samples, f, rate); p > bestP {
				best, bestP = f, p
			}
		}
	}
	scan(20, 4000, 5)
	scan(best-5, best+5, 0.25)
	return best
}

// goertzel returns the power of frequency f in samples.
func goertzel(samples []float64, f float64, rate int) float64 {
	w := 2 * math.Pi * f / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range samples {
		s0 := x + c*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - c*s1*s2
}

// RMSDBFS returns the RMS level of samples (full scale 1.0) in dBFS, -100 for silence.
func RMSDBFS(samples []float64) float64 {
	if len(samples) == 0 {
		return -100
	}
	var sum float64
	for _, v := range samples {
		sum += v * v
	}
	return msToDBFS(sum / float64(len(samples)))
}

// LeftChannel returns the left channel of interleaved stereo S16 samples as floats in [-1, 1).
func LeftChannel(stereo []int16) []float64 {
	out := make([]float64, 0, len(stereo)/2)
	for i := 0; i+1 < len(stereo); i += 2 {
		out = append(out, float64(stereo[i])/32768)
	}
	return out
}
