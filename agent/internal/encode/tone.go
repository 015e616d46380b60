package encode

// DominantFrequency estimates the frequency in Hz of a tone in mono samples at the given rate by counting
// upward zero crossings (good enough for a clean sine, which is what tests play).
func DominantFrequency(samples []float64, rate int) float64 {
	var first, last, n int
	first = -1
	for i := 1; i < len(samples); i++ {
		if samples[i-1] < 0 && samples[i] >= 0 {
			if first < 0 {
				first = i
			}
			last = i
			n++
		}
	}
	if n < 2 {
		return 0
	}
	return float64(n-1) * float64(rate) / float64(last-first)
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
