package vncsynth

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"net"
	"sync"
	"time"
)

// RFB numbers used by the server.
const (
	encRaw               = 0
	encDesktopSize       = -223
	encPointerTypeChange = -257
	encExtendedKeyEvent  = -258
	relativeOrigin       = 0x7FFF
	maxCutText           = 1 << 20
	maxDirtyRects        = 64
	writeTimeout         = 10 * time.Second
)

// pixelFormat is an RFB PIXEL_FORMAT (true colour only).
type pixelFormat struct {
	bpp                    int
	depth                  int
	bigEndian              bool
	rmax, gmax, bmax       int
	rshift, gshift, bshift uint
}

func (pf pixelFormat) isBGRX() bool {
	return pf.bpp == 32 && !pf.bigEndian && pf.rmax == 255 && pf.gmax == 255 && pf.bmax == 255 &&
		pf.rshift == 16 && pf.gshift == 8 && pf.bshift == 0
}

func (pf pixelFormat) bytes() []byte {
	b := make([]byte, 16)
	b[0], b[1], b[3] = byte(pf.bpp), byte(pf.depth), 1
	if pf.bigEndian {
		b[2] = 1
	}
	binary.BigEndian.PutUint16(b[4:], uint16(pf.rmax))
	binary.BigEndian.PutUint16(b[6:], uint16(pf.gmax))
	binary.BigEndian.PutUint16(b[8:], uint16(pf.bmax))
	b[10], b[11], b[12] = byte(pf.rshift), byte(pf.gshift), byte(pf.bshift)
	return b
}

func parsePixelFormat(b []byte) (pixelFormat, error) {
	pf := pixelFormat{
		bpp: int(b[0]), depth: int(b[1]), bigEndian: b[2] != 0,
		rmax: int(binary.BigEndian.Uint16(b[4:])), gmax: int(binary.BigEndian.Uint16(b[6:])),
		bmax: int(binary.BigEndian.Uint16(b[8:])), rshift: uint(b[10]), gshift: uint(b[11]), bshift: uint(b[12]),
	}
	if b[3] == 0 {
		return pf, fmt.Errorf("%w: colour-map pixel formats are not supported", ErrProtocol)
	}
	if pf.bpp != 8 && pf.bpp != 16 && pf.bpp != 32 {
		return pf, fmt.Errorf("%w: %d bits per pixel", ErrProtocol, pf.bpp)
	}
	if pf.rmax > 255 || pf.gmax > 255 || pf.bmax > 255 || pf.rshift > 31 || pf.gshift > 31 || pf.bshift > 31 {
		return pf, fmt.Errorf("%w: unsupported colour maxima or shifts", ErrProtocol)
	}
	return pf, nil
}

// serverFormat is what ServerInit announces for a server depth.
func serverFormat(bpp int) pixelFormat {
	if bpp == 16 {
		return pixelFormat{bpp: 16, depth: 16, rmax: 31, gmax: 63, bmax: 31, rshift: 11, gshift: 5}
	}
	return pixelFormat{bpp: 32, depth: 24, rmax: 255, gmax: 255, bmax: 255, rshift: 16, gshift: 8}
}

// client is one connection.
type client struct {
	s    *Server
	conn net.Conn
	br   *bufio.Reader
	wake chan struct{}
	done chan struct{}
	once sync.Once

	mu                       sync.Mutex
	pf                       pixelFormat
	desktopSize, ptc, extKey bool
	noticeResize, noticePTC  bool
	noticeExtKey             bool
	hasReq, incremental      bool
	req                      image.Rectangle
	dirty                    []image.Rectangle
	out                      []byte
	wmu                      sync.Mutex // serializes conn writes
	relativeMode             bool       // pointer events are 0x7FFF+delta
}

func newClient(s *Server, nc net.Conn) *client {
	return &client{s: s, conn: nc, br: bufio.NewReaderSize(nc, 64<<10), wake: make(chan struct{}, 1),
		done: make(chan struct{}), pf: serverFormat(s.cfg.BPP)}
}

func (c *client) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.conn.Close()
	})
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// addDirty records changed rectangles (called with the server lock held).
func (c *client) addDirty(rs []image.Rectangle) {
	c.mu.Lock()
	c.dirty = append(c.dirty, rs...)
	if len(c.dirty) > maxDirtyRects {
		var u image.Rectangle
		for _, r := range c.dirty {
			u = u.Union(r)
		}
		c.dirty = append(c.dirty[:0], u)
	}
	c.mu.Unlock()
	c.signal()
}

// resized notes a mode change (called with the server lock held).
func (c *client) resized() {
	c.mu.Lock()
	c.noticeResize = true
	c.dirty = append(c.dirty[:0], image.Rect(0, 0, 4096, 4096))
	c.mu.Unlock()
	c.signal()
}

func (c *client) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.conn.Write(b)
	return err
}

// serve runs the handshake, the writer and the reader until the connection ends.
func (c *client) serve(ctx context.Context) error {
	defer c.close()
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.handshake(); err != nil {
		return err
	}
	_ = c.conn.SetDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() { errc <- c.writer() }()
	err := c.reader()
	c.close()
	if werr := <-errc; err == nil {
		err = werr
	}
	return err
}

func (c *client) handshake() error {
	if err := c.writeRaw([]byte("RFB 003.008\n")); err != nil {
		return err
	}
	var v [12]byte
	if _, err := io.ReadFull(c.br, v[:]); err != nil {
		return fmt.Errorf("reading ProtocolVersion: %w", err)
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(v[:]), "RFB %03d.%03d\n", &major, &minor); err != nil || major != 3 {
		return fmt.Errorf("%w: ProtocolVersion %q", ErrProtocol, v[:])
	}
	switch {
	case minor >= 7:
		if err := c.writeRaw([]byte{1, 1}); err != nil { // one security type: None
			return err
		}
		var st [1]byte
		if _, err := io.ReadFull(c.br, st[:]); err != nil {
			return fmt.Errorf("reading security type: %w", err)
		}
		if st[0] != 1 {
			return fmt.Errorf("%w: security type %d", ErrProtocol, st[0])
		}
		if minor >= 8 {
			if err := c.writeRaw([]byte{0, 0, 0, 0}); err != nil {
				return err
			}
		}
	default:
		if err := c.writeRaw([]byte{0, 0, 0, 1}); err != nil {
			return err
		}
	}
	var shared [1]byte
	if _, err := io.ReadFull(c.br, shared[:]); err != nil {
		return fmt.Errorf("reading ClientInit: %w", err)
	}
	w, h := c.s.Mode()
	name := "loco-vncsynth " + c.s.cfg.Label
	b := binary.BigEndian.AppendUint16(nil, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = append(b, c.pf.bytes()...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	return c.writeRaw(b)
}

// reader parses client messages.
func (c *client) reader() error {
	var b [20]byte
	for {
		if _, err := io.ReadFull(c.br, b[:1]); err != nil {
			return readErr(err)
		}
		switch b[0] {
		case 0: // SetPixelFormat
			if _, err := io.ReadFull(c.br, b[:19]); err != nil {
				return readErr(err)
			}
			pf, err := parsePixelFormat(b[3:19])
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.pf = pf
			c.mu.Unlock()
		case 2: // SetEncodings
			if _, err := io.ReadFull(c.br, b[:3]); err != nil {
				return readErr(err)
			}
			n := int(binary.BigEndian.Uint16(b[1:3]))
			var desktopSize, ptc, extKey bool
			for range n {
				if _, err := io.ReadFull(c.br, b[:4]); err != nil {
					return readErr(err)
				}
				switch int32(binary.BigEndian.Uint32(b[:4])) {
				case encDesktopSize:
					desktopSize = true
				case encPointerTypeChange:
					ptc = true
				case encExtendedKeyEvent:
					extKey = true
				}
			}
			c.mu.Lock()
			c.desktopSize, c.ptc, c.extKey = desktopSize, ptc, extKey
			c.noticePTC, c.noticeExtKey = ptc, extKey
			c.relativeMode = ptc && !c.s.cfg.AbsolutePointer
			c.mu.Unlock()
			c.signal()
		case 3: // FramebufferUpdateRequest
			if _, err := io.ReadFull(c.br, b[:9]); err != nil {
				return readErr(err)
			}
			x, y := int(binary.BigEndian.Uint16(b[1:])), int(binary.BigEndian.Uint16(b[3:]))
			w, h := int(binary.BigEndian.Uint16(b[5:])), int(binary.BigEndian.Uint16(b[7:]))
			c.mu.Lock()
			if c.hasReq {
				c.s.overlapping.Add(1)
			}
			c.hasReq, c.incremental, c.req = true, b[0] != 0, rect(x, y, w, h)
			c.mu.Unlock()
			c.s.requests.Add(1)
			c.signal()
		case 4: // KeyEvent
			if _, err := io.ReadFull(c.br, b[:7]); err != nil {
				return readErr(err)
			}
			c.s.j.addEvent(Event{Kind: KindKey, Down: b[0] != 0, Keysym: binary.BigEndian.Uint32(b[3:])})
		case 5: // PointerEvent
			if _, err := io.ReadFull(c.br, b[:5]); err != nil {
				return readErr(err)
			}
			x, y := int(binary.BigEndian.Uint16(b[1:])), int(binary.BigEndian.Uint16(b[3:]))
			c.mu.Lock()
			rel := c.relativeMode
			c.mu.Unlock()
			if rel {
				x, y = x-relativeOrigin, y-relativeOrigin
			}
			c.s.pointer(b[0], x, y, rel)
		case 6: // ClientCutText
			if _, err := io.ReadFull(c.br, b[:7]); err != nil {
				return readErr(err)
			}
			n := binary.BigEndian.Uint32(b[3:])
			if n > maxCutText {
				return fmt.Errorf("%w: ClientCutText of %d bytes", ErrProtocol, n)
			}
			text := make([]byte, n)
			if _, err := io.ReadFull(c.br, text); err != nil {
				return readErr(err)
			}
			c.s.j.addEvent(Event{Kind: KindCutText, Text: string(text)})
		case 255: // QEMU
			if _, err := io.ReadFull(c.br, b[:1]); err != nil {
				return readErr(err)
			}
			if b[0] != 0 {
				return fmt.Errorf("%w: QEMU client message subtype %d", ErrProtocol, b[0])
			}
			if _, err := io.ReadFull(c.br, b[:10]); err != nil {
				return readErr(err)
			}
			c.s.j.addEvent(Event{Kind: KindExtKey, Down: binary.BigEndian.Uint16(b[0:]) != 0,
				Keysym: binary.BigEndian.Uint32(b[2:]), Scancode: binary.BigEndian.Uint32(b[6:])})
		default:
			return fmt.Errorf("%w: client message type %d", ErrProtocol, b[0])
		}
	}
}

func readErr(err error) error {
	if err == io.EOF {
		return nil
	}
	return fmt.Errorf("reading: %w", err)
}

// writer sends notices and updates whenever there is something to send.
func (c *client) writer() error {
	for {
		select {
		case <-c.done:
			return nil
		case <-c.wake:
		}
		out := c.build()
		if len(out) == 0 {
			continue
		}
		if err := c.writeRaw(out); err != nil {
			c.close()
			return fmt.Errorf("writing update: %w", err)
		}
	}
}

// build assembles the pending notices and, when a request can be answered, the update.
func (c *client) build() []byte {
	s := c.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	p := s.pic
	out := c.out[:0]
	notice := func(x int, enc int32) {
		out = append(out, 0, 0, 0, 1)
		out = appendRectHeader(out, image.Rect(x, 0, x+p.w, p.h), enc)
	}
	if c.noticeResize {
		c.noticeResize = false
		if c.desktopSize {
			notice(0, encDesktopSize)
		}
	}
	if c.noticePTC {
		c.noticePTC = false
		abs := 0
		if s.cfg.AbsolutePointer {
			abs = 1
		}
		notice(abs, encPointerTypeChange)
	}
	if c.noticeExtKey {
		c.noticeExtKey = false
		notice(0, encExtendedKeyEvent)
	}
	if c.hasReq {
		// Like QEMU, send everything that changed whatever the requested area (after a mode change a pending
		// request may still name the old size), plus the requested area of a non-incremental request.
		var rects []image.Rectangle
		for _, d := range c.dirty {
			if r := d.Intersect(p.bounds()); !r.Empty() {
				rects = append(rects, r)
			}
		}
		if r := c.req.Intersect(p.bounds()); !c.incremental && !r.Empty() {
			rects = append(rects, r)
		}
		if !c.incremental || len(rects) > 0 {
			c.hasReq = false
			c.s.updates.Add(1)
			c.dirty = c.dirty[:0]
			out = append(out, 0, 0)
			out = binary.BigEndian.AppendUint16(out, uint16(len(rects)))
			for _, r := range rects {
				out = appendRectHeader(out, r, encRaw)
				out = appendPixels(out, p, r, c.pf)
			}
		}
	}
	c.out = out
	return out
}

func appendRectHeader(b []byte, r image.Rectangle, enc int32) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(r.Min.X))
	b = binary.BigEndian.AppendUint16(b, uint16(r.Min.Y))
	b = binary.BigEndian.AppendUint16(b, uint16(r.Dx()))
	b = binary.BigEndian.AppendUint16(b, uint16(r.Dy()))
	return binary.BigEndian.AppendUint32(b, uint32(enc))
}

// appendPixels appends the pixels of r in format pf.
func appendPixels(b []byte, p *picture, r image.Rectangle, pf pixelFormat) []byte {
	if pf.isBGRX() {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			o := y*p.stride + r.Min.X*4
			b = append(b, p.pix[o:o+r.Dx()*4]...)
		}
		return b
	}
	if pf.bpp == 32 && !pf.bigEndian && pf.rmax == 255 && pf.gmax == 255 && pf.bmax == 255 &&
		pf.rshift%8 == 0 && pf.gshift%8 == 0 && pf.bshift%8 == 0 { // byte-aligned 32-bit formats (noVNC's RGBX)
		ri, gi, bi := pf.rshift/8, pf.gshift/8, pf.bshift/8
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := p.pix[y*p.stride+r.Min.X*4 : y*p.stride+r.Max.X*4]
			for i := 0; i < len(row); i += 4 {
				var px [4]byte
				px[ri], px[gi], px[bi] = row[i+2], row[i+1], row[i]
				b = append(b, px[:]...)
			}
		}
		return b
	}
	bpp := pf.bpp / 8
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := p.at(x, y)
			v := scale(c.r, pf.rmax)<<pf.rshift | scale(c.g, pf.gmax)<<pf.gshift | scale(c.b, pf.bmax)<<pf.bshift
			switch {
			case bpp == 1:
				b = append(b, byte(v))
			case bpp == 2 && pf.bigEndian:
				b = binary.BigEndian.AppendUint16(b, uint16(v))
			case bpp == 2:
				b = binary.LittleEndian.AppendUint16(b, uint16(v))
			case pf.bigEndian:
				b = binary.BigEndian.AppendUint32(b, v)
			default:
				b = binary.LittleEndian.AppendUint32(b, v)
			}
		}
	}
	return b
}

// scale maps an 8-bit channel to 0..max, rounding (so RGB565 colours expanded by bit replication come back exact).
func scale(c uint8, max int) uint32 { return uint32((int(c)*max + 127) / 255) }
