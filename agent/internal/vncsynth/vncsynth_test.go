package vncsynth

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	p := newPicture(320, 48, false)
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, n := range []uint64{0, 1, 2, 0x5555, 0xaaaa, 0xffff, 0x10000 + 42, 12345} {
		p.drawStamp(n)
		if got, ok := DecodeStamp(p.pix, p.stride, 4); !ok || got != uint16(n) {
			t.Fatalf("stamp %d decoded as %d, %v", n, got, ok)
		}
		// Lossy compression: noise of ±60 on every channel and blurred block edges still decode.
		noisy := append([]byte(nil), p.pix...)
		for i := range noisy {
			v := int(noisy[i]) + rnd.IntN(121) - 60
			noisy[i] = byte(max(0, min(255, v)))
		}
		for y := range StampHeight {
			for b := 1; b < StampBlocks; b++ {
				for dx := -2; dx < 2; dx++ {
					noisy[y*p.stride+(b*StampBlock+dx)*4] = 128
				}
			}
		}
		if got, ok := DecodeStamp(noisy, p.stride, 4); !ok || got != uint16(n) {
			t.Fatalf("noisy stamp %d decoded as %d, %v", n, got, ok)
		}
	}
	// RGBA with a different stride.
	rgba := image.NewRGBA(image.Rect(0, 0, 400, 20))
	for y := range 16 {
		for x := range 288 {
			o := y*p.stride + x*4
			rgba.Set(x, y, rgbaOf(p.pix[o+2], p.pix[o+1], p.pix[o]))
		}
	}
	if got, ok := DecodeStamp(rgba.Pix, rgba.Stride, 4); !ok || got != uint16(12345) {
		t.Fatalf("RGBA stamp decoded as %d, %v", got, ok)
	}
	// No stamp: a flat picture, or too small.
	flat := newPicture(320, 48, false)
	flat.fill(flat.bounds(), rgb{128, 128, 128})
	if _, ok := DecodeStamp(flat.pix, flat.stride, 4); ok {
		t.Fatal("flat picture decoded")
	}
	if _, ok := DecodeStamp(flat.pix[:100], 100, 4); ok {
		t.Fatal("small picture decoded")
	}
}

func TestScenes(t *testing.T) {
	changed := func(a, b []byte) (n int) {
		for i := 0; i < len(a); i += 4 {
			if a[i] != b[i] || a[i+1] != b[i+1] || a[i+2] != b[i+2] {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		scene    string
		min, max int // pixels changed by one step (800x600 = 480000)
		frames   uint64
	}{
		{SceneTown, 200, 20000, 1},
		{SceneMotion, 792*572 - 121, 480000, 1}, // all but the band, frame and pointer marker
		{SceneStill, 0, 0, 0},
	} {
		for _, bpp := range []int{16, 32} {
			s, err := New(Config{Scene: tc.scene, BPP: bpp, Label: "test-1"})
			if err != nil {
				t.Fatal(err)
			}
			_, _, before, f0 := s.Snapshot()
			s.Step()
			_, _, after, f1 := s.Snapshot()
			if n := changed(before, after); n < tc.min || n > tc.max || f1-f0 != tc.frames {
				t.Errorf("%s/%d: %d pixels changed over %d frames, want %d..%d over %d", tc.scene, bpp, n, f1-f0, tc.min, tc.max, tc.frames)
			}
			if st, ok := DecodeStamp(after, 800*4, 4); !ok || uint64(st) != f1 {
				t.Errorf("%s: stamp %d %v, frame %d", tc.scene, st, ok, f1)
			}
			if bpp == 16 { // every colour is an RGB565 colour expanded by bit replication
				for i := 0; i < len(after); i += 4 {
					if after[i] != expand5[after[i]] || after[i+1] != expand6[after[i+1]] || after[i+2] != expand5[after[i+2]] {
						t.Fatalf("%s: pixel %d (%v) is not an RGB565 colour", tc.scene, i/4, after[i:i+3])
					}
				}
			}
		}
	}
	// Distinct labels give distinct band colours.
	if labelColour("loco-0") == labelColour("loco-1") {
		t.Error("labels loco-0 and loco-1 share a colour")
	}
	if _, err := New(Config{Scene: "nope"}); err == nil {
		t.Error("unknown scene accepted")
	}
	if _, err := New(Config{BPP: 8}); err == nil {
		t.Error("8 bpp accepted")
	}
}

func rgbaOf(r, g, b byte) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 255} }

// rawClient speaks RFB by hand: a 16-bit big-endian pixel format, no pseudo-encodings.
func TestRawClient16Bit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, addr, err := Start(ctx, Config{Scene: SceneStill, Width: 320, Height: 240}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-srv.Done() }()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	read := func(n int) []byte {
		t.Helper()
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if v := string(read(12)); v != "RFB 003.008\n" {
		t.Fatalf("version %q", v)
	}
	_, _ = conn.Write([]byte("RFB 003.008\n"))
	if st := read(2); st[0] != 1 || st[1] != 1 {
		t.Fatalf("security types % x", st)
	}
	_, _ = conn.Write([]byte{1})
	if res := read(4); binary.BigEndian.Uint32(res) != 0 {
		t.Fatal("security result")
	}
	_, _ = conn.Write([]byte{1})
	init := read(24)
	if w, h := binary.BigEndian.Uint16(init), binary.BigEndian.Uint16(init[2:]); w != 320 || h != 240 || init[4] != 32 {
		t.Fatalf("ServerInit % x", init)
	}
	read(int(binary.BigEndian.Uint32(init[20:])))
	// SetPixelFormat: 16 bpp, big-endian, RGB565.
	_, _ = conn.Write([]byte{0, 0, 0, 0, 16, 16, 1, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0})
	_, _ = conn.Write([]byte{3, 0, 0, 0, 0, 0, 0, 2, 0, 1}) // full request for x 0..1, y 0
	hdr := read(16)
	if hdr[0] != 0 || binary.BigEndian.Uint16(hdr[2:]) != 1 || binary.BigEndian.Uint32(hdr[12:]) != 0 {
		t.Fatalf("update header % x", hdr)
	}
	px := read(4)
	// Pixel (0,0) is the stamp's white reference, (1,0) too: 0xffff big-endian.
	if px[0] != 0xff || px[1] != 0xff || px[2] != 0xff || px[3] != 0xff {
		t.Fatalf("pixels % x, want white", px)
	}
	// Input is recorded: absolute (no -257 announced), key, QEMU extended key.
	_, _ = conn.Write([]byte{5, 3, 0, 10, 0, 20, 4, 1, 0, 0, 0, 0, 0, 0x61, 255, 0, 0, 1, 0, 0, 0xff, 0x52, 0, 0, 0, 0xc8})
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Events(0)) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	evs := srv.Events(0)
	if len(evs) != 3 || evs[0].Kind != KindPointerAbs || evs[0].X != 10 || evs[0].Y != 20 || evs[0].Buttons != 3 ||
		evs[1].Kind != KindKey || evs[1].Keysym != 'a' || !evs[1].Down ||
		evs[2].Kind != KindExtKey || evs[2].Scancode != 0xc8 || evs[2].Keysym != 0xff52 || !evs[2].Down {
		t.Fatalf("events %+v", evs)
	}
	// An unknown message ends the connection.
	_, _ = conn.Write([]byte{77})
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("connection still open after an unknown message")
	}
}

func TestHTTP(t *testing.T) {
	s, err := New(Config{Scene: SceneTown})
	if err != nil {
		t.Fatal(err)
	}
	s.pointer(1, 5, 6, false)
	s.Step()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	var evs []Event
	getJSON(t, hs.URL+"/events", &evs)
	if len(evs) != 1 || evs[0].Kind != KindPointerAbs || evs[0].X != 5 {
		t.Fatalf("events %+v", evs)
	}
	getJSON(t, hs.URL+"/events?since=1", &evs)
	if len(evs) != 0 {
		t.Fatalf("events since 1: %+v", evs)
	}
	var paints []Paint
	getJSON(t, hs.URL+"/paints", &paints)
	if len(paints) != 2 || paints[1].Frame != 1 || paints[1].Stamp != 1 || paints[1].UnixNano < paints[0].UnixNano {
		t.Fatalf("paints %+v", paints)
	}
	if pt, ok := s.PaintTime(1); !ok || pt.UnixNano() != paints[1].UnixNano {
		t.Fatalf("PaintTime(1) = %v, %v", pt, ok)
	}
	resp, err := http.Post(hs.URL+"/mode?width=1024&height=768", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /mode: %v %v", resp, err)
	}
	resp, err = http.Post(hs.URL+"/mode?width=10&height=768", "", nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST /mode with a bad size: %v %v", resp, err)
	}
	var st map[string]any
	getJSON(t, hs.URL+"/status", &st)
	if st["width"] != 1024.0 || st["height"] != 768.0 || st["scene"] != SceneTown {
		t.Fatalf("status %v", st)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestPixelFormats(t *testing.T) {
	p := newPicture(2, 1, false)
	p.fill(rect(0, 0, 1, 1), rgb{0x12, 0x34, 0x56})
	p.fill(rect(1, 0, 1, 1), rgb{0xff, 0x80, 0x00})
	cases := []struct {
		name string
		pf   pixelFormat
		want []byte
	}{
		{"BGRX", serverFormat(32), []byte{0x56, 0x34, 0x12, 0, 0x00, 0x80, 0xff, 0}},
		{"RGBX", pixelFormat{bpp: 32, depth: 24, rmax: 255, gmax: 255, bmax: 255, gshift: 8, bshift: 16},
			[]byte{0x12, 0x34, 0x56, 0, 0xff, 0x80, 0x00, 0}},
		{"XRGB big-endian", pixelFormat{bpp: 32, depth: 24, bigEndian: true, rmax: 255, gmax: 255, bmax: 255, rshift: 16, gshift: 8},
			[]byte{0, 0x12, 0x34, 0x56, 0, 0xff, 0x80, 0x00}},
		{"RGB565 little-endian", serverFormat(16), []byte{0xaa, 0x11, 0x00, 0xfc}},
		{"BGR233", pixelFormat{bpp: 8, depth: 8, rmax: 7, gmax: 7, bmax: 3, gshift: 3, bshift: 6},
			[]byte{0 | 1<<3 | 1<<6, 7 | 4<<3}},
	}
	for _, tc := range cases {
		if got := appendPixels(nil, p, p.bounds(), tc.pf); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
}
