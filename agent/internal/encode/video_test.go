package encode

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// testPicture draws a deterministic BGRX picture: gradients plus a box whose place depends on n.
func testPicture(w, h, n int) []byte {
	pix := make([]byte, w*h*4)
	drawPicture(pix, w, h, n)
	return pix
}

func drawPicture(pix []byte, w, h, n int) {
	bx, by := (n*7)%(w-64), (n*5)%(h-64)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 4
			pix[i] = byte(x * 255 / w)
			pix[i+1] = byte(y * 255 / h)
			pix[i+2] = byte((x + y) / 8 * 32)
			if x >= bx && x < bx+64 && y >= by && y < by+64 {
				pix[i], pix[i+1], pix[i+2] = 255, 255, 255
			}
		}
	}
}

// collector keeps copies of encoded samples.
type collector struct {
	mu      sync.Mutex
	samples []Sample
	ch      chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1000)} }

func (c *collector) output(s Sample) {
	s.Data = append([]byte(nil), s.Data...)
	c.mu.Lock()
	c.samples = append(c.samples, s)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

func (c *collector) wait(t *testing.T, n int) []Sample {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		c.mu.Lock()
		if len(c.samples) >= n {
			out := append([]Sample(nil), c.samples...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("only %d of %d encoded samples arrived", len(c.samples), n)
		}
	}
}

func TestVideoRoundTripPSNR(t *testing.T) {
	for _, codec := range []Codec{H264, VP8} {
		t.Run(string(codec), func(t *testing.T) {
			col := newCollector()
			v, err := NewVideo(VideoConfig{Codec: codec, Output: col.output})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			const w, h, frames = 320, 240, 10
			pics := make([][]byte, frames)
			for i := range pics {
				pics[i] = testPicture(w, h, i)
				// Push one frame at a time: appsrc is leaky and would drop a frame pushed too early.
				if err := v.Push(pics[i], w, h, w*4, time.Now()); err != nil {
					t.Fatal(err)
				}
				col.wait(t, i+1)
			}
			samples := col.wait(t, frames)
			if !samples[0].Keyframe {
				t.Errorf("first frame is not a keyframe")
			}
			dec, err := NewDecoder(codec)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			for i, s := range samples {
				pic, ok, err := dec.Decode(s.Data, 5*time.Second)
				if err != nil || !ok {
					t.Fatalf("frame %d: decode ok=%v err=%v", i, ok, err)
				}
				if pic.Width != w || pic.Height != h {
					t.Fatalf("frame %d decoded as %dx%d", i, pic.Width, pic.Height)
				}
				// 4:2:0 chroma on this picture's sharp colour steps limits PSNR to about 28-29 dB.
				p := PSNR(pic.Pix, pics[i], w, h)
				if p < 26 {
					t.Errorf("frame %d: PSNR %.1f dB < 26", i, p)
				}
				// The neighbouring frame (box moved by a few pixels) must match clearly worse.
				if other := PSNR(pic.Pix, pics[(i+1)%frames], w, h); other > p-2 {
					t.Errorf("frame %d: PSNR against the next picture %.1f dB, against its own %.1f dB", i, other, p)
				}
			}
			st := v.Stats()
			if st.FramesOut != frames || st.KeyFrames < 1 {
				t.Errorf("stats %+v", st)
			}
			if sum := v.Timings().Take(); sum.Count == 0 || sum.Mean <= 0 || sum.P95 < sum.Mean/2 {
				t.Errorf("encode timings %+v", sum)
			}
		})
	}
}

func TestVideoForceKeyFrameAndModeChange(t *testing.T) {
	for _, codec := range []Codec{H264, VP8} {
		t.Run(string(codec), func(t *testing.T) {
			col := newCollector()
			v, err := NewVideo(VideoConfig{Codec: codec, Output: col.output})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			push := func(w, h, n int) Sample {
				t.Helper()
				if err := v.Push(testPicture(w, h, n), w, h, w*4, time.Now()); err != nil {
					t.Fatal(err)
				}
				s := col.wait(t, n+1)
				return s[n]
			}
			push(320, 240, 0)
			for n := 1; n < 4; n++ {
				if s := push(320, 240, n); s.Keyframe {
					t.Fatalf("frame %d is a keyframe without a request", n)
				}
			}
			if err := v.ForceKeyFrame(); err != nil {
				t.Fatal(err)
			}
			if s := push(320, 240, 4); !s.Keyframe {
				t.Fatalf("frame after ForceKeyFrame is not a keyframe")
			}
			if s := push(320, 240, 5); s.Keyframe {
				t.Fatalf("second frame after ForceKeyFrame is a keyframe too")
			}
			// Mode change: the next frame is a keyframe of the new size.
			s := push(400, 300, 6)
			if !s.Keyframe {
				t.Fatalf("first frame after a mode change is not a keyframe")
			}
			dec, err := NewDecoder(codec)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			pic, ok, err := dec.Decode(s.Data, 5*time.Second)
			if err != nil || !ok || pic.Width != 400 || pic.Height != 300 {
				t.Fatalf("decoded %dx%d ok=%v err=%v", pic.Width, pic.Height, ok, err)
			}
			if err := v.SetBitRate(500_000); err != nil {
				t.Fatal(err)
			}
			if v.BitRate() != 500_000 {
				t.Fatalf("bitrate %d", v.BitRate())
			}
			push(400, 300, 7)
		})
	}
}

func TestVideoRejectsBadInput(t *testing.T) {
	if _, err := ParseCodec("mpeg2"); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("ParseCodec(mpeg2) = %v", err)
	}
	v, err := NewVideo(VideoConfig{Codec: H264, Output: func(Sample) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Push(make([]byte, 100), 320, 240, 1280, time.Now()); !errors.Is(err, ErrFrameSize) {
		t.Errorf("short buffer: %v", err)
	}
	if err := v.Push(make([]byte, 100), 0, 0, 0, time.Now()); !errors.Is(err, ErrFrameSize) {
		t.Errorf("empty frame: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Push(make([]byte, 320*240*4), 320, 240, 1280, time.Now()); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v", err)
	}
}

// BenchmarkVideoPush measures the frame path into the encoder at 800x600 (copy + push, and the encode itself on
// the pipeline's thread): allocations per frame and encode ms per frame (reported as encode-ms/op).
func BenchmarkVideoPush(b *testing.B) {
	for _, codec := range []Codec{H264, VP8} {
		b.Run(string(codec), func(b *testing.B) {
			out := make(chan struct{}, 1)
			v, err := NewVideo(VideoConfig{Codec: codec, Output: func(Sample) { out <- struct{}{} }})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			const w, h = 800, 600
			pics := [][]byte{testPicture(w, h, 0), testPicture(w, h, 1)}
			// Warm up (caps negotiation, first keyframe).
			for i := 0; i < 3; i++ {
				_ = v.Push(pics[i%2], w, h, w*4, time.Now())
				<-out
			}
			v.Timings().Take()
			b.SetBytes(w * h * 4)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := v.Push(pics[i%2], w, h, w*4, time.Now()); err != nil {
					b.Fatal(err)
				}
				<-out
			}
			b.StopTimer()
			sum := v.Timings().Take()
			b.ReportMetric(float64(sum.Mean.Microseconds())/1000, "encode-ms")
			b.ReportMetric(float64(sum.P95.Microseconds())/1000, "encode-p95-ms")
		})
	}
}

func TestVideoOddSizeIsCropped(t *testing.T) {
	col := newCollector()
	v, err := NewVideo(VideoConfig{Codec: H264, Output: col.output})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const w, h = 321, 241
	if err := v.Push(make([]byte, w*h*4), w, h, w*4, time.Now()); err != nil {
		t.Fatal(err)
	}
	s := col.wait(t, 1)[0]
	dec, err := NewDecoder(H264)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	pic, ok, err := dec.Decode(s.Data, 5*time.Second)
	if err != nil || !ok || pic.Width != 320 || pic.Height != 240 {
		t.Fatalf("decoded %dx%d ok=%v err=%v, want 320x240", pic.Width, pic.Height, ok, err)
	}
}

// TestVideoScale: an encoder with Scale 2 encodes a 320x240 picture as 160x120 that matches the picture scaled down.
func TestVideoScale(t *testing.T) {
	col := newCollector()
	v, err := NewVideo(VideoConfig{Codec: H264, Scale: 2, Output: col.output})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const w, h = 320, 240
	pic := testPicture(w, h, 3)
	for i := 0; i < 3; i++ {
		if err := v.Push(pic, w, h, w*4, time.Now()); err != nil {
			t.Fatal(err)
		}
		col.wait(t, i+1)
	}
	dec, err := NewDecoder(H264)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var got Picture
	for i, s := range col.wait(t, 3) {
		p, ok, err := dec.Decode(s.Data, 5*time.Second)
		if err != nil || !ok {
			t.Fatalf("frame %d: decode ok=%v err=%v", i, ok, err)
		}
		got = p
	}
	if got.Width != w/2 || got.Height != h/2 {
		t.Fatalf("decoded %dx%d, want %dx%d", got.Width, got.Height, w/2, h/2)
	}
	want := Downscale(pic, w, h, w*4, 2)
	if p := PSNR(got.Pix, want, w/2, h/2); p < 22 {
		t.Errorf("PSNR %.1f dB against the downscaled picture < 22", p)
	}
	if st := v.Stats(); st.OutWidth != w/2 || st.OutHeight != h/2 || st.Width != w {
		t.Errorf("stats %+v", st)
	}
	if _, err := NewVideo(VideoConfig{Codec: H264, Scale: -1, Output: col.output}); err == nil {
		t.Error("a negative scale was accepted")
	}
}
