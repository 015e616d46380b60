package tightproxy

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"image"
	"image/jpeg"
	"io"
	"net"
	"testing"
	"time"
)

const fbW, fbH = 64, 32

// fakeUpstream is a Raw-only VNC server: after the handshake it answers every update request with the whole
// framebuffer: the left half red, the right half a gradient.
func fakeUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				if err := serverHandshake(r, c, fbW, fbH, bgrx, "fake"); err != nil {
					return
				}
				for {
					typ, err := r.ReadByte()
					if err != nil {
						return
					}
					switch typ {
					case 0:
						_, _ = r.Discard(19)
					case 2:
						b, _ := readFull(r, 3)
						_, _ = r.Discard(4 * int(binary.BigEndian.Uint16(b[1:])))
					case 3:
						_, _ = r.Discard(9)
						msg := []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, fbW, 0, fbH, 0, 0, 0, 0}
						for y := 0; y < fbH; y++ {
							for x := 0; x < fbW; x++ {
								if x < fbW/2 {
									msg = append(msg, 0, 0, 255, 0) // BGRX red
								} else {
									msg = append(msg, byte(x*4), byte(y*8), 0, 0)
								}
							}
						}
						time.Sleep(20 * time.Millisecond)
						if _, err := c.Write(msg); err != nil {
							return
						}
					default:
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func startProxy(t *testing.T, upstream string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", Upstream: upstream}, func(a net.Addr) { addr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return (<-addr).String()
}

// rfbClient connects to the proxy like noVNC: RGBX pixel format (red shift 0), the given encodings, a full
// update request; it returns the first update's rectangles' encodings and payloads.
func firstUpdate(t *testing.T, addr string, encs []int32) (*bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	w, h, err := clientHandshake(r, c)
	if err != nil || w != fbW || h != fbH {
		t.Fatalf("handshake: %dx%d %v", w, h, err)
	}
	rgbx := pixelFormat{BPP: 32, Depth: 24, TrueColour: 1, RedMax: 255, GreenMax: 255, BlueMax: 255, RedShift: 0, GreenShift: 8, BlueShift: 16}
	msg := append([]byte{0, 0, 0, 0}, rgbx.bytes()...)
	msg = append(msg, 2, 0)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(encs)))
	for _, e := range encs {
		msg = binary.BigEndian.AppendUint32(msg, uint32(e))
	}
	msg = append(msg, updateRequest(false, fbW, fbH)...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	return r, c
}

func readRectHeader(t *testing.T, r *bufio.Reader) (w, h int, enc int32) {
	t.Helper()
	b, err := readFull(r, 12)
	if err != nil {
		t.Fatal(err)
	}
	return int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:])), int32(binary.BigEndian.Uint32(b[8:]))
}

func readCompact(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	n := 0
	for i := 0; i < 3; i++ {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		n |= int(b&0x7f) << (7 * i)
		if b&0x80 == 0 || i == 2 {
			if i == 2 {
				n |= int(b&0x80) << 14
			}
			break
		}
	}
	return n
}

func TestTightJPEG(t *testing.T) {
	r, _ := firstUpdate(t, startProxy(t, fakeUpstream(t)), []int32{encTight, qualityLo + 6})
	if hdr, err := readFull(r, 4); err != nil || hdr[0] != 0 || binary.BigEndian.Uint16(hdr[2:]) != 1 {
		t.Fatalf("update header %v %v", hdr, err)
	}
	w, h, enc := readRectHeader(t, r)
	if w != fbW || h != fbH || enc != encTight {
		t.Fatalf("rect %dx%d encoding %d, want %dx%d Tight", w, h, enc, fbW, fbH)
	}
	if ctl, _ := r.ReadByte(); ctl != 0x90 {
		t.Fatalf("compression control %#x, want JPEG (0x90)", ctl)
	}
	data, err := readFull(r, readCompact(t, r))
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("JPEG: %v", err)
	}
	if r8, g8, b8, _ := img.At(4, 4).RGBA(); r8>>8 < 200 || g8>>8 > 60 || b8>>8 > 60 {
		t.Errorf("left half decodes to %d,%d,%d, want red", r8>>8, g8>>8, b8>>8)
	}
}

func TestTightZlibThenFill(t *testing.T) {
	// No quality level: lossless basic compression; the red half then arrives as a solid fill when asked for alone.
	r, _ := firstUpdate(t, startProxy(t, fakeUpstream(t)), []int32{encTight})
	if _, err := readFull(r, 4); err != nil {
		t.Fatal(err)
	}
	readRectHeader(t, r)
	ctl, _ := r.ReadByte()
	if ctl&0xf0 != 0 {
		t.Fatalf("compression control %#x, want basic compression on stream 0", ctl)
	}
	data, err := readFull(r, readCompact(t, r))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	px := make([]byte, fbW*fbH*3)
	if _, err := io.ReadFull(zr, px); err != nil {
		t.Fatalf("inflate: %v", err)
	}
	if !bytes.Equal(px[:3], []byte{255, 0, 0}) {
		t.Errorf("first pixel %v, want red as R,G,B", px[:3])
	}
	// Row 0, last pixel: upstream BGRX (252, 0, 0) is blue.
	if got, want := px[(fbW-1)*3:fbW*3], []byte{0, 0, byte((fbW - 1) * 4)}; !bytes.Equal(got, want) {
		t.Errorf("last pixel of row 0 %v, want %v", got, want)
	}

	enc := newTightEncoder(pixelFormat{BPP: 32, Depth: 24, TrueColour: 1, RedMax: 255, GreenMax: 255, BlueMax: 255, GreenShift: 8, BlueShift: 16})
	enc.setEncodings([]int32{encTight})
	fb := make([]byte, 4*4*4)
	for i := 0; i < len(fb); i += 4 {
		copy(fb[i:], []byte{1, 2, 3, 0})
	}
	out := enc.encode(nil, fb, 4, image.Rect(0, 0, 4, 4))
	if want := []byte{0x80, 3, 2, 1}; !bytes.Equal(out[12:], want) {
		t.Errorf("solid rect encodes as %v, want fill %v", out[12:], want)
	}
}

func TestRawWithoutTight(t *testing.T) {
	r, _ := firstUpdate(t, startProxy(t, fakeUpstream(t)), []int32{encRaw})
	if _, err := readFull(r, 4); err != nil {
		t.Fatal(err)
	}
	if _, _, enc := readRectHeader(t, r); enc != encRaw {
		t.Fatalf("encoding %d, want Raw", enc)
	}
	px, err := readFull(r, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(px, []byte{255, 0, 0, 0}) {
		t.Errorf("first pixel %v, want red in the client's RGBX", px)
	}
}

func TestBadClientMessageEndsOnlyThatSession(t *testing.T) {
	addr := startProxy(t, fakeUpstream(t))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if _, _, err := clientHandshake(r, c); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte{99, 1, 2, 3})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(r); err != nil {
		t.Fatalf("want the proxy to close the session, got %v", err)
	}
	c.Close()
	// The proxy still serves others.
	r2, _ := firstUpdate(t, addr, []int32{encRaw})
	if _, err := readFull(r2, 4); err != nil {
		t.Fatalf("second client: %v", err)
	}
}
