package rfb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"testing"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// rawRect appends a Raw rectangle whose pixels are BGRX bytes derived from their position.
func rawRect(b []byte, x, y, w, h int) []byte {
	b = append(b, fbUpdate(x, y, w, h, EncodingRaw)[4:]...)
	for j := range h {
		for i := range w {
			b = append(b, byte(x+i), byte(y+j), byte(x+i+y+j), 0)
		}
	}
	return b
}

// update returns a FramebufferUpdate body (after the type byte) of n rectangles given by rects.
func update(n int, rects ...[]byte) []byte {
	b := []byte{0}
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	for _, r := range rects {
		b = append(b, r...)
	}
	return b
}

func newDecoder(t testing.TB, w, h int, data []byte) *decoder {
	fb, err := capture.NewFramebuffer(w, h)
	if err != nil {
		t.Fatal(err)
	}
	var f capture.Frame
	fb.Take(&f, func(*capture.Frame) {}) // the initial full damage
	return &decoder{r: bufio.NewReader(bytes.NewReader(data)), fb: fb}
}

func TestReadUpdate(t *testing.T) {
	body := update(5,
		rawRect(nil, 2, 3, 4, 2),
		fbUpdate(0, 0, 0, 0, EncodingPointerTypeChange)[4:],
		fbUpdate(1, 0, 16, 8, EncodingPointerTypeChange)[4:],
		fbUpdate(0, 0, 16, 8, EncodingExtendedKeyEvent)[4:],
		rawRect(nil, 0, 7, 16, 1),
	)
	d := newDecoder(t, 16, 8, body)
	var info updateInfo
	if err := d.readUpdate(&info); err != nil {
		t.Fatal(err)
	}
	if info.rects != 5 || info.pixelRects != 2 || info.pointer != pointerAbsolute || !info.extKeyAck || info.covered || !info.answers() {
		t.Fatalf("info %+v", info)
	}
	var f capture.Frame
	d.fb.Take(&f, func(f *capture.Frame) {
		if f.Damage != image.Rect(0, 3, 16, 8) {
			t.Errorf("damage %v", f.Damage)
		}
		px := func(x, y int) []byte { return f.Pix[y*f.Stride+x*4 : y*f.Stride+x*4+4] }
		for _, p := range [][2]int{{2, 3}, {5, 4}, {0, 7}, {15, 7}} {
			x, y := p[0], p[1]
			if want := []byte{byte(x), byte(y), byte(x + y), 0}; !bytes.Equal(px(x, y), want) {
				t.Errorf("pixel %d,%d = %v, want %v", x, y, px(x, y), want)
			}
		}
		if !bytes.Equal(px(1, 3), []byte{0, 0, 0, 0}) || !bytes.Equal(px(6, 3), []byte{0, 0, 0, 0}) {
			t.Errorf("pixels beside the rectangle changed")
		}
	})

	// A mode change then a full-screen rectangle: resized and covered, so no extra full request is needed.
	d = newDecoder(t, 16, 8, update(2, fbUpdate(0, 0, 8, 4, EncodingDesktopSize)[4:], rawRect(nil, 0, 0, 8, 4)))
	if err := d.readUpdate(&info); err != nil {
		t.Fatal(err)
	}
	if !info.resized || !info.covered || info.width != 8 || info.height != 4 {
		t.Fatalf("info %+v", info)
	}
	// Only pseudo-encodings: an unsolicited notice, not an answer. No rectangles: an answer.
	d = newDecoder(t, 16, 8, update(1, fbUpdate(0, 0, 16, 8, EncodingExtendedKeyEvent)[4:]))
	if err := d.readUpdate(&info); err != nil || info.answers() {
		t.Fatalf("ack only: err %v, answers %v", err, info.answers())
	}
	d = newDecoder(t, 16, 8, update(0))
	if err := d.readUpdate(&info); err != nil || !info.answers() {
		t.Fatalf("empty: err %v, answers %v", err, info.answers())
	}
}

func TestReadUpdateErrors(t *testing.T) {
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"truncated header", []byte{0, 0}, ErrConnectionLost},
		{"truncated rectangle header", update(1, []byte{0, 0, 0}), ErrConnectionLost},
		{"truncated pixels", update(1, rawRect(nil, 0, 0, 4, 4)[:40]), ErrConnectionLost},
		{"missing rectangle", update(2, rawRect(nil, 0, 0, 1, 1)), ErrConnectionLost},
		{"outside x", update(1, rawRect(nil, 10, 0, 7, 1)), ErrMalformed},
		{"outside y", update(1, rawRect(nil, 0, 8, 1, 1)), ErrMalformed},
		{"too large", update(1, fbUpdate(0, 0, 5000, 10, EncodingDesktopSize)[4:]), ErrMalformed},
		{"unknown encoding", update(1, fbUpdate(0, 0, 1, 1, 16)[4:]), ErrUnknownEncoding},
		{"cursor pseudo-encoding not asked for", update(1, fbUpdate(0, 0, 1, 1, -239)[4:]), ErrUnknownEncoding},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var info updateInfo
			err := newDecoder(t, 16, 8, tc.body).readUpdate(&info)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzReadUpdate feeds arbitrary FramebufferUpdate bodies to the decoder: it must return (an error or not) without
// panicking, and leave a framebuffer within bounds.
func FuzzReadUpdate(f *testing.F) {
	f.Add(update(1, rawRect(nil, 0, 0, 16, 8)))
	f.Add(update(2, rawRect(nil, 3, 2, 5, 5), rawRect(nil, 0, 0, 1, 1)))
	f.Add(update(2, fbUpdate(0, 0, 32, 4, EncodingDesktopSize)[4:], rawRect(nil, 0, 0, 32, 4)))
	f.Add(update(1, fbUpdate(0, 0, 16, 8, EncodingPointerTypeChange)[4:]))
	f.Add(update(1, fbUpdate(0, 0, 16, 8, EncodingExtendedKeyEvent)[4:]))
	f.Add(update(0))
	f.Add(update(3, fbUpdate(0, 0, 0, 0, EncodingDesktopSize)[4:], rawRect(nil, 0, 0, 0, 0)))
	f.Add([]byte{0, 0xff, 0xff, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		d := newDecoder(t, 16, 8, body)
		var info updateInfo
		_ = d.readUpdate(&info)
		w, h := d.fb.Size()
		if w > capture.MaxWidth || h > capture.MaxHeight {
			t.Fatalf("framebuffer %dx%d", w, h)
		}
		var fr capture.Frame
		d.fb.Peek(&fr, func(fr *capture.Frame) {
			if len(fr.Pix) != fr.Stride*fr.Height || fr.Stride != fr.Width*4 {
				t.Fatalf("frame %dx%d stride %d with %d bytes", fr.Width, fr.Height, fr.Stride, len(fr.Pix))
			}
		})
	})
}

// loopReader serves the same bytes forever without allocating.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// benchDecode decodes body, a FramebufferUpdate body, over and over into an 800x600 framebuffer through a
// buffered reader as large as the client's.
func benchDecode(b *testing.B, body []byte) {
	fb, err := capture.NewFramebuffer(800, 600)
	if err != nil {
		b.Fatal(err)
	}
	d := &decoder{r: bufio.NewReaderSize(&loopReader{data: body}, readBufferSize), fb: fb}
	var info updateInfo
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.readUpdate(&info); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawDecode800x600 decodes full-screen 800x600 Raw updates (1.92 MB each) from a buffered stream, as the
// client does from the socket. Run: go test -run '^$' -bench RawDecode -benchmem ./internal/rfb/
func BenchmarkRawDecode800x600(b *testing.B) {
	benchDecode(b, update(1, rawRect(nil, 0, 0, 800, 600)))
}

// BenchmarkRawDecodeSmallRects decodes updates of 16 rectangles of 32x32 (the town scene's common case).
func BenchmarkRawDecodeSmallRects(b *testing.B) {
	var rects []byte
	for i := range 16 {
		rects = rawRect(rects, (i*47)%(800-32), (i*31)%(600-32), 32, 32)
	}
	benchDecode(b, update(16, rects))
}
