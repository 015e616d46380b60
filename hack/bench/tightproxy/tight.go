package tightproxy

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/jpeg"
)

const (
	encRaw     = 0
	encTight   = 7
	qualityLo  = -32 // pseudo-encodings -32..-23: JPEG quality level 0..9
	compressLo = -256
)

// jpegQuality maps the RFB quality level 0..9 to a JPEG quality, as TigerVNC does.
var jpegQuality = [10]int{15, 29, 41, 42, 62, 77, 79, 86, 92, 100}

// tightEncoder turns framebuffer rectangles into Tight (or Raw) rectangles for one client.
type tightEncoder struct {
	pf      pixelFormat
	tight   bool
	quality int // -1: no JPEG
	level   int // zlib level
	zbuf    bytes.Buffer
	zw      *zlib.Writer
	scratch []byte
}

func newTightEncoder(pf pixelFormat) *tightEncoder {
	return &tightEncoder{pf: pf, quality: -1, level: 6}
}

func (e *tightEncoder) setFormat(pf pixelFormat) { e.pf = pf }

func (e *tightEncoder) setEncodings(encs []int32) {
	e.tight, e.quality = false, -1
	for _, enc := range encs {
		switch {
		case enc == encTight:
			e.tight = true
		case enc >= qualityLo && enc <= qualityLo+9:
			e.quality = int(enc - qualityLo)
		case enc >= compressLo && enc <= compressLo+9:
			e.level = max(1, int(enc-compressLo))
			e.zw = nil // a new stream at the new level; the client is told to reset it
		}
	}
}

// pixel returns the client's pixel value for a BGRX pixel.
func (e *tightEncoder) pixel(p []byte) uint32 {
	return uint32(p[2])<<e.pf.RedShift | uint32(p[1])<<e.pf.GreenShift | uint32(p[0])<<e.pf.BlueShift
}

// encode appends the rectangle header and data for r to body.
func (e *tightEncoder) encode(body, fb []byte, width int, r image.Rectangle) []byte {
	w, h := r.Dx(), r.Dy()
	body = binary.BigEndian.AppendUint16(body, uint16(r.Min.X))
	body = binary.BigEndian.AppendUint16(body, uint16(r.Min.Y))
	body = binary.BigEndian.AppendUint16(body, uint16(w))
	body = binary.BigEndian.AppendUint16(body, uint16(h))
	row := func(y int) []byte { o := (y*width + r.Min.X) * 4; return fb[o : o+w*4] }
	if !e.tight {
		body = binary.BigEndian.AppendUint32(body, encRaw)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			px := row(y)
			for x := 0; x < w; x++ {
				body = binary.LittleEndian.AppendUint32(body, e.pixel(px[4*x:]))
			}
		}
		return body
	}
	body = binary.BigEndian.AppendUint32(body, encTight)
	first := row(r.Min.Y)[:4]
	solid := true
	for y := r.Min.Y; y < r.Max.Y && solid; y++ {
		px := row(y)
		for x := 0; x < w; x++ {
			if px[4*x] != first[0] || px[4*x+1] != first[1] || px[4*x+2] != first[2] {
				solid = false
				break
			}
		}
	}
	if solid {
		v := e.pixel(first)
		return append(body, 0x80, byte(v), byte(v>>8), byte(v>>16))
	}
	if e.quality >= 0 && w >= 8 && h >= 8 {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			src, dst := row(r.Min.Y+y), img.Pix[y*img.Stride:]
			for x := 0; x < w; x++ {
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = src[4*x+2], src[4*x+1], src[4*x], 255
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality[e.quality]}); err == nil {
			body = append(body, 0x90)
			body = compactLength(body, buf.Len())
			return append(body, buf.Bytes()...)
		}
	}
	// Basic compression, copy filter, zlib stream 0.
	e.scratch = e.scratch[:0]
	for y := r.Min.Y; y < r.Max.Y; y++ {
		px := row(y)
		for x := 0; x < w; x++ {
			v := e.pixel(px[4*x:])
			e.scratch = append(e.scratch, byte(v), byte(v>>8), byte(v>>16))
		}
	}
	if len(e.scratch) < 12 {
		return append(append(body, 0x00), e.scratch...)
	}
	ctl := byte(0x00)
	if e.zw == nil {
		e.zbuf.Reset()
		e.zw, _ = zlib.NewWriterLevel(&e.zbuf, e.level)
		ctl |= 0x01 // reset stream 0 on the client
	}
	e.zbuf.Reset()
	_, _ = e.zw.Write(e.scratch)
	_ = e.zw.Flush()
	body = append(body, ctl)
	body = compactLength(body, e.zbuf.Len())
	return append(body, e.zbuf.Bytes()...)
}

// compactLength appends Tight's 1-3 byte length.
func compactLength(b []byte, n int) []byte {
	b = append(b, byte(n&0x7f))
	if n > 0x7f {
		b[len(b)-1] |= 0x80
		b = append(b, byte(n>>7&0x7f))
		if n > 0x3fff {
			b[len(b)-1] |= 0x80
			b = append(b, byte(n>>14))
		}
	}
	return b
}
