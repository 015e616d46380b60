package encode

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// videoconvertRef converts BGRX pictures to I420 with GStreamer's videoconvert element, the way the encoder
// pipeline used to: the reference the I420 converter must match byte for byte.
type videoconvertRef struct {
	a   *appPipeline
	pts time.Duration
}

func newVideoconvertRef(t *testing.T, w, h int) *videoconvertRef {
	t.Helper()
	desc := fmt.Sprintf("appsrc name=src is-live=true format=time do-timestamp=false "+
		"caps=video/x-raw,format=BGRx,width=%d,height=%d,framerate=30/1,pixel-aspect-ratio=1/1 ! "+
		"videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false max-buffers=2 drop=false", w, h)
	a, err := newAppPipeline(desc, "src", "sink")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.play("reference"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.stop("reference") })
	return &videoconvertRef{a: a}
}

// convert returns videoconvert's I420 bytes for a w x h BGRX picture with tightly packed rows.
func (r *videoconvertRef) convert(t *testing.T, pix []byte) []byte {
	t.Helper()
	r.pts += 33 * time.Millisecond
	if err := pushBytes(r.a.elems["src"], pix, r.pts); err != nil {
		t.Fatal(err)
	}
	var s pulled
	if !s.tryPull(r.a.elems["sink"], 20*time.Second) {
		t.Fatal("videoconvert produced nothing")
	}
	defer s.release()
	return append([]byte(nil), s.data()...)
}

// randomPicture fills a BGRX picture with noise, flat areas and sharp edges (the X byte too: it must be ignored);
// with q16 every colour is one a 16-bit (RGB565) server can show.
func randomPicture(rnd *rand.Rand, pix []byte, w, h, stride int, q16 bool) {
	for y := 0; y < h; y++ {
		row := pix[y*stride:]
		for x := 0; x < w; x++ {
			i := x * 4
			switch {
			case (x/7+y/5)%3 == 0: // flat
				row[i], row[i+1], row[i+2] = byte(x/7*40), byte(y/5*30), 200
			default:
				row[i], row[i+1], row[i+2] = byte(rnd.IntN(256)), byte(rnd.IntN(256)), byte(rnd.IntN(256))
			}
			row[i+3] = byte(rnd.IntN(256))
			if q16 {
				row[i], row[i+1], row[i+2] = row[i]&0xf8, row[i+1]&0xfc, row[i+2]&0xf8
			}
		}
	}
}

// packed returns the w x h picture of pix (stride apart) with tightly packed rows.
func packed(pix []byte, w, h, stride int) []byte {
	out := make([]byte, 0, w*h*4)
	for y := 0; y < h; y++ {
		out = append(out, pix[y*stride:y*stride+w*4]...)
	}
	return out
}

// visibleI420 returns the pixels of an I420 picture in GStreamer's default layout for w x h (rows padded to 4
// bytes), without the padding.
func visibleI420(b []byte, w, h int) []byte {
	ys, cs := (w+3)&^3, (w/2+3)&^3
	out := make([]byte, 0, w*h*3/2)
	for y := range h {
		out = append(out, b[y*ys:y*ys+w]...)
	}
	for p := range 2 {
		base := ys*h + p*cs*(h/2)
		for y := range h / 2 {
			out = append(out, b[base+y*cs:base+y*cs+w/2]...)
		}
	}
	return out
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestI420MatchesVideoconvert: converting the whole picture, and then only the bands with changed rows after each
// of a series of changes (single pixels, odd rectangles, the last row and column, rectangles across band edges),
// gives exactly videoconvert's I420 of the whole picture, for several sizes (bands that do not divide the height,
// strides with padding, a framebuffer stride wider than the picture) and for 16- and 32-bit content.
func TestI420MatchesVideoconvert(t *testing.T) {
	Init()
	for _, tc := range []struct {
		w, h, pad int
		q16       bool
	}{
		{800, 600, 0, false}, {800, 600, 0, true}, {640, 480, 0, false}, {1024, 768, 0, true},
		{322, 242, 0, false}, {34, 18, 4, false}, {2, 2, 0, false}, {802, 4, 8, true},
	} {
		t.Run(fmt.Sprintf("%dx%d+%d/q16=%v", tc.w, tc.h, tc.pad, tc.q16), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(uint64(tc.w), uint64(tc.h)))
			stride := tc.w*4 + tc.pad
			pix := make([]byte, stride*tc.h)
			randomPicture(rnd, pix, tc.w, tc.h, stride, tc.q16)
			ref := newVideoconvertRef(t, tc.w, tc.h)
			pic, err := newI420(tc.w, tc.h, 30)
			if err != nil {
				t.Fatal(err)
			}
			defer pic.free()
			if err := pic.convert(pix, stride, nil); err != nil {
				t.Fatal(err)
			}
			check := func(what string) {
				t.Helper()
				want, got := visibleI420(ref.convert(t, packed(pix, tc.w, tc.h, stride)), tc.w, tc.h),
					visibleI420(pic.bytes(), tc.w, tc.h)
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: %d bytes differ from videoconvert's %d, first at %d", what, len(got), len(want),
						firstDiff(got, want))
				}
			}
			check("whole picture")
			var rows capture.RowSet
			for step := range 12 {
				rows.Reset(tc.h)
				var rects []image.Rectangle
				switch step {
				case 0:
					rects = []image.Rectangle{image.Rect(tc.w-1, tc.h-1, tc.w, tc.h)} // last pixel
				case 1:
					rects = []image.Rectangle{image.Rect(0, 0, 1, 1), image.Rect(tc.w/2, tc.h/2, tc.w/2+1, tc.h/2+1)}
				case 2: // across a band edge, odd rows
					rects = []image.Rectangle{image.Rect(1, i420Band-1, min(tc.w, 9), min(tc.h, i420Band+1))}
				default:
					for range 1 + rnd.IntN(4) {
						x, y := rnd.IntN(tc.w), rnd.IntN(tc.h)
						rects = append(rects, image.Rect(x, y, x+1+rnd.IntN(tc.w-x), y+1+rnd.IntN(min(40, tc.h-y))))
					}
				}
				// Twice: a band converted again right after itself must not reuse anything of the first time.
				for again := range 2 {
					for _, r := range rects {
						r = r.Intersect(image.Rect(0, 0, tc.w, tc.h))
						sub := make([]byte, stride*tc.h)
						randomPicture(rnd, sub, tc.w, tc.h, stride, tc.q16)
						for y := r.Min.Y; y < r.Max.Y; y++ {
							copy(pix[y*stride+r.Min.X*4:y*stride+r.Max.X*4], sub[y*stride+r.Min.X*4:])
						}
						rows.Add(r.Min.Y, r.Max.Y)
					}
					if err := pic.convert(pix, stride, &rows); err != nil {
						t.Fatal(err)
					}
					check(fmt.Sprintf("step %d.%d (%v)", step, again, rects))
				}
			}
		})
	}
}

// BenchmarkI420Convert measures converting a whole 800x600 picture and one band of it.
func BenchmarkI420Convert(b *testing.B) {
	Init()
	const w, h = 800, 600
	pix := testPicture(w, h, 1)
	pic, err := newI420(w, h, 30)
	if err != nil {
		b.Fatal(err)
	}
	defer pic.free()
	var band capture.RowSet
	band.Reset(h)
	band.Add(300, 301)
	for _, bc := range []struct {
		name string
		rows *capture.RowSet
	}{{"whole", nil}, {"band", &band}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := pic.convert(pix, w*4, bc.rows); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestI420PushedBuffersAreUpToDate: the buffers pushed into appsrc (reused ones brought up to date by copying the
// rows changed since each was last pushed, new ones, and copies when downstream holds every reusable buffer) carry
// exactly videoconvert's picture of the framebuffer at each push, whatever order downstream lets go of them in.
func TestI420PushedBuffersAreUpToDate(t *testing.T) {
	Init()
	const w, h = 320, 240
	a, err := newAppPipeline(fmt.Sprintf("appsrc name=src is-live=true format=time do-timestamp=false "+
		"caps=video/x-raw,format=I420,width=%d,height=%d,framerate=30/1,pixel-aspect-ratio=1/1 ! "+
		"appsink name=sink sync=false max-buffers=16 drop=false", w, h), "src", "sink")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.play("test"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.stop("test") }()
	ref := newVideoconvertRef(t, w, h)
	pic, err := newI420(w, h, 30)
	if err != nil {
		t.Fatal(err)
	}
	defer pic.free()
	rnd := rand.New(rand.NewPCG(7, 7))
	pix := make([]byte, w*h*4)
	randomPicture(rnd, pix, w, h, w*4, false)
	if err := pic.convert(pix, w*4, nil); err != nil {
		t.Fatal(err)
	}
	var held []*pulled
	var rows capture.RowSet
	for step := range 40 {
		if step > 0 {
			rows.Reset(h)
			x, y := rnd.IntN(w), rnd.IntN(h)
			r := image.Rect(x, y, x+1+rnd.IntN(w-x), y+1+rnd.IntN(min(30, h-y)))
			sub := make([]byte, w*h*4)
			randomPicture(rnd, sub, w, h, w*4, false)
			for yy := r.Min.Y; yy < r.Max.Y; yy++ {
				copy(pix[yy*w*4+r.Min.X*4:yy*w*4+r.Max.X*4], sub[yy*w*4+r.Min.X*4:])
			}
			rows.Add(r.Min.Y, r.Max.Y)
			if err := pic.convert(pix, w*4, &rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := pic.push(a.elems["src"], time.Duration(step)*time.Millisecond, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		s := new(pulled)
		if !s.tryPull(a.elems["sink"], 20*time.Second) {
			t.Fatalf("step %d: nothing pulled", step)
		}
		want := visibleI420(ref.convert(t, pix), w, h)
		if got := visibleI420(s.data(), w, h); !bytes.Equal(got, want) {
			t.Fatalf("step %d: pushed picture differs from videoconvert's at %d", step, firstDiff(got, want))
		}
		// Hold 0 to 5 buffers (more than can be reused), letting go of a random one.
		held = append(held, s)
		for len(held) > step%6 {
			i := rnd.IntN(len(held))
			held[i].release()
			held = append(held[:i], held[i+1:]...)
		}
	}
	for _, s := range held {
		s.release()
	}
}

// TestVideoConvertsOnlyWhatItMustFromFrames: WriteFrame converts only the changed rows when the encoder saw the
// previous frame, and the whole picture when it did not (a skipped frame, a frame without rows, a Push in between,
// a new size), so its picture always matches videoconvert's of the frame.
func TestVideoConvertsOnlyWhatItMustFromFrames(t *testing.T) {
	v, err := NewVideo(VideoConfig{Codec: H264, Output: func(Sample) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	rnd := rand.New(rand.NewPCG(3, 4))
	w, h := 160, 96
	ref := newVideoconvertRef(t, w, h)
	pix := make([]byte, w*h*4)
	randomPicture(rnd, pix, w, h, w*4, false)
	var rows capture.RowSet
	seq := uint64(1)
	frame := &capture.Frame{Width: w, Height: h, Stride: w * 4, Pix: pix, Seq: seq, Rows: &rows}
	rows.Reset(h)
	rows.Add(0, h)
	// change paints rows y0..y1-1 anew and returns them as the frame's rows.
	change := func(y0, y1 int) {
		sub := make([]byte, w*h*4)
		randomPicture(rnd, sub, w, h, w*4, false)
		copy(pix[y0*w*4:y1*w*4], sub[y0*w*4:])
		rows.Reset(h)
		rows.Add(y0, y1)
	}
	check := func(what string) {
		t.Helper()
		v.mu.Lock()
		got := visibleI420(v.pic.bytes(), w, h)
		v.mu.Unlock()
		if want := visibleI420(ref.convert(t, pix), w, h); !bytes.Equal(got, want) {
			t.Fatalf("%s: picture differs from videoconvert's at %d", what, firstDiff(got, want))
		}
	}
	write := func(what string, prev uint64) {
		t.Helper()
		frame.PrevSeq, frame.Seq = prev, seq
		if err := v.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
		check(what)
	}
	write("first frame", 0)
	seq++
	change(10, 20)
	write("next frame", seq-1)
	// A frame this encoder did not see changed rows 40-50: the next one only names its own rows.
	change(40, 50)
	seq++
	change(70, 75)
	seq++
	write("after a skipped frame", seq-1)
	seq++
	change(0, 3)
	frame.Rows = nil
	write("frame without rows", seq-1)
	frame.Rows = &rows
	randomPicture(rnd, pix, w, h, w*4, false)
	if err := v.Push(pix, w, h, w*4, time.Now()); err != nil {
		t.Fatal(err)
	}
	check("Push")
	seq++
	change(90, 96)
	write("frame after a Push", seq-1)
	seq++
	change(1, 2)
	write("one row", seq-1)
	// A new size: the whole picture, however few rows the frame names.
	w, h = 96, 64
	ref = newVideoconvertRef(t, w, h)
	pix = make([]byte, w*h*4)
	randomPicture(rnd, pix, w, h, w*4, false)
	frame.Width, frame.Height, frame.Stride, frame.Pix = w, h, w*4, pix
	seq++
	rows.Reset(h)
	rows.Add(5, 6)
	write("new size", seq-1)
}

// TestVideoFollowsFramebuffer: a framebuffer changed by a writer (random rectangles, a mode change) and paced into
// the encoder, which skips some frames as the full-size encoder does while every viewer watches the small layer,
// leaves the encoder's picture exactly videoconvert's picture of the framebuffer.
func TestVideoFollowsFramebuffer(t *testing.T) {
	v, err := NewVideo(VideoConfig{Codec: VP8, Output: func(Sample) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	fb, err := capture.NewFramebuffer(200, 150)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	var skip atomic.Bool
	var delivered atomic.Uint64
	pacer := capture.NewPacer(fb, capture.SinkFunc(func(f *capture.Frame) error {
		defer delivered.Store(f.Seq)
		if skip.Load() {
			return nil
		}
		return v.WriteFrame(f)
	}), capture.PacerConfig{FPS: 1000})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pacer.Run(ctx) }()
	defer func() { cancel(); <-done }()
	paintRect := func(r image.Rectangle) {
		w := fb.BeginWrite()
		pix, stride := w.Pix(), w.Stride()
		c := byte(rnd.IntN(256))
		for yy := r.Min.Y; yy < r.Max.Y; yy++ {
			for xx := r.Min.X * 4; xx < r.Max.X*4; xx++ {
				pix[yy*stride+xx] = c + byte(xx)
			}
		}
		w.Damage(r)
		w.End()
	}
	paint := func() {
		fw, fh := fb.Size()
		x, y := rnd.IntN(fw), rnd.IntN(fh)
		paintRect(image.Rect(x, y, x+1+rnd.IntN(fw-x), y+1+rnd.IntN(min(20, fh-y))))
	}
	// waitDelivered waits until the pacer has handed on the framebuffer's current picture.
	waitDelivered := func() {
		t.Helper()
		seq := fb.Seq()
		deadline := time.Now().Add(30 * time.Second)
		for delivered.Load() < seq {
			if time.Now().After(deadline) {
				t.Fatalf("the pacer delivered up to frame %d of %d", delivered.Load(), seq)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	for i := range 400 {
		if i == 200 {
			w := fb.BeginWrite()
			if err := w.Resize(160, 120); err != nil {
				t.Fatal(err)
			}
			w.End()
		}
		skip.Store(rnd.IntN(10) == 0)
		paint()
		if i%8 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	// Last, a change the encoder skips, then one elsewhere it sees: the first must not be lost.
	waitDelivered()
	skip.Store(true)
	paintRect(image.Rect(3, 10, 50, 13))
	waitDelivered()
	skip.Store(false)
	paintRect(image.Rect(0, 100, 160, 101))
	waitDelivered()
	var want []byte
	var f capture.Frame
	fb.Peek(&f, func(f *capture.Frame) { want = packed(f.Pix, f.Width, f.Height, f.Stride) })
	ref := newVideoconvertRef(t, 160, 120)
	v.mu.Lock()
	got := visibleI420(v.pic.bytes(), 160, 120)
	v.mu.Unlock()
	if w := visibleI420(ref.convert(t, want), 160, 120); !bytes.Equal(got, w) {
		t.Fatalf("the encoder's picture differs from videoconvert's of the framebuffer at %d", firstDiff(got, w))
	}
}
