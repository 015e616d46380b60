package tightproxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"sync"
)

// Config says where to listen and which VNC server to re-encode.
type Config struct {
	Listen   string // host:port for clients
	Upstream string // host:port of the VNC server (Raw is enough)
}

// Run serves clients until ctx is done. ready, when not nil, receives the listening address.
func Run(ctx context.Context, cfg Config, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	if ready != nil {
		ready(ln.Addr())
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(ctx, c, cfg.Upstream); err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
				slog.Warn("client session ended", "client", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// session is one client and its upstream connection.
type session struct {
	mu      sync.Mutex
	cond    *sync.Cond
	fb      []byte // BGRX, width*height*4
	width   int
	height  int
	dirty   []image.Rectangle
	pending bool // the client has an update request outstanding
	ready   bool // the first upstream update arrived (before it the framebuffer is only black)
	closed  bool
	err     error
	enc     *tightEncoder
}

func serve(ctx context.Context, client net.Conn, upstream string) error {
	defer client.Close()
	up, err := (&net.Dialer{}).DialContext(ctx, "tcp", upstream)
	if err != nil {
		return fmt.Errorf("dial upstream %s: %w", upstream, err)
	}
	defer up.Close()
	ur := bufio.NewReaderSize(up, 1<<20)
	w, h, err := clientHandshake(ur, up)
	if err != nil {
		return fmt.Errorf("upstream handshake: %w", err)
	}
	// Upstream: BGRX, Raw only, one full update to start.
	msg := append([]byte{0, 0, 0, 0}, bgrx.bytes()...)
	msg = append(msg, 2, 0, 0, 1, 0, 0, 0, 0)
	msg = append(msg, updateRequest(false, w, h)...)
	if _, err := up.Write(msg); err != nil {
		return fmt.Errorf("upstream setup: %w", err)
	}

	cr := bufio.NewReader(client)
	cw := bufio.NewWriterSize(client, 1<<16)
	if err := serverHandshake(cr, client, w, h, bgrx, "loco tight proxy"); err != nil {
		return fmt.Errorf("client handshake: %w", err)
	}
	s := &session{fb: make([]byte, w*h*4), width: w, height: h, enc: newTightEncoder(bgrx)}
	s.cond = sync.NewCond(&s.mu)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { <-ctx.Done(); s.fail(ctx.Err()); up.Close(); client.Close() }()
	go func() { s.fail(s.readUpstream(ur, up)) }()
	go func() { s.fail(s.readClient(cr)) }()
	return s.writeClient(cw)
}

func (s *session) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed, s.err = true, err
		s.cond.Broadcast()
	}
}

func updateRequest(incremental bool, w, h int) []byte {
	inc := byte(0)
	if incremental {
		inc = 1
	}
	b := []byte{3, inc, 0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	return binary.BigEndian.AppendUint16(b, uint16(h))
}

// readUpstream applies Raw updates to the framebuffer, marks them dirty, and asks for the next one at once.
func (s *session) readUpstream(r *bufio.Reader, w io.Writer) error {
	for {
		t, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("upstream: %w", err)
		}
		switch t {
		case 0: // FramebufferUpdate
			hdr, err := readFull(r, 3)
			if err != nil {
				return fmt.Errorf("upstream update: %w", err)
			}
			var rects []image.Rectangle
			for range int(binary.BigEndian.Uint16(hdr[1:])) {
				rh, err := readFull(r, 12)
				if err != nil {
					return fmt.Errorf("upstream rect: %w", err)
				}
				x, y := int(binary.BigEndian.Uint16(rh[0:])), int(binary.BigEndian.Uint16(rh[2:]))
				rw, rhh := int(binary.BigEndian.Uint16(rh[4:])), int(binary.BigEndian.Uint16(rh[6:]))
				if enc := int32(binary.BigEndian.Uint32(rh[8:])); enc != 0 {
					return fmt.Errorf("%w: upstream encoding %d", ErrProtocol, enc)
				}
				if x+rw > s.width || y+rhh > s.height {
					return fmt.Errorf("%w: rect %dx%d+%d+%d outside %dx%d", ErrProtocol, rw, rhh, x, y, s.width, s.height)
				}
				s.mu.Lock()
				for row := y; row < y+rhh; row++ {
					o := (row*s.width + x) * 4
					if _, err := io.ReadFull(r, s.fb[o:o+rw*4]); err != nil {
						s.mu.Unlock()
						return fmt.Errorf("upstream pixels: %w", err)
					}
				}
				s.mu.Unlock()
				rects = append(rects, image.Rect(x, y, x+rw, y+rhh))
			}
			if _, err := w.Write(updateRequest(true, s.width, s.height)); err != nil {
				return fmt.Errorf("upstream request: %w", err)
			}
			s.mu.Lock()
			s.dirty = append(s.dirty, rects...)
			s.ready = true
			s.cond.Broadcast()
			s.mu.Unlock()
		case 2: // Bell
		case 3: // ServerCutText
			hdr, err := readFull(r, 7)
			if err != nil {
				return fmt.Errorf("upstream cut text: %w", err)
			}
			if _, err := r.Discard(int(binary.BigEndian.Uint32(hdr[3:]))); err != nil {
				return fmt.Errorf("upstream cut text: %w", err)
			}
		default:
			return fmt.Errorf("%w: upstream message type %d", ErrProtocol, t)
		}
	}
}

// readClient handles the client's messages: format, encodings, update requests; input is read and dropped.
func (s *session) readClient(r *bufio.Reader) error {
	for {
		t, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("client: %w", err)
		}
		switch t {
		case 0: // SetPixelFormat
			b, err := readFull(r, 19)
			if err != nil {
				return fmt.Errorf("client pixel format: %w", err)
			}
			pf := parsePixelFormat(b[3:])
			if !pf.supported() {
				return fmt.Errorf("%w: client pixel format %+v", ErrProtocol, pf)
			}
			s.mu.Lock()
			s.enc.setFormat(pf)
			s.mu.Unlock()
		case 2: // SetEncodings
			b, err := readFull(r, 3)
			if err != nil {
				return fmt.Errorf("client encodings: %w", err)
			}
			list, err := readFull(r, 4*int(binary.BigEndian.Uint16(b[1:])))
			if err != nil {
				return fmt.Errorf("client encodings: %w", err)
			}
			encs := make([]int32, len(list)/4)
			for i := range encs {
				encs[i] = int32(binary.BigEndian.Uint32(list[4*i:]))
			}
			s.mu.Lock()
			s.enc.setEncodings(encs)
			s.mu.Unlock()
		case 3: // FramebufferUpdateRequest
			b, err := readFull(r, 9)
			if err != nil {
				return fmt.Errorf("client update request: %w", err)
			}
			s.mu.Lock()
			s.pending = true
			if b[0] == 0 {
				s.dirty = append(s.dirty, image.Rect(0, 0, s.width, s.height))
			}
			s.cond.Broadcast()
			s.mu.Unlock()
		case 4: // KeyEvent
			if _, err := r.Discard(7); err != nil {
				return fmt.Errorf("client key: %w", err)
			}
		case 5: // PointerEvent
			if _, err := r.Discard(5); err != nil {
				return fmt.Errorf("client pointer: %w", err)
			}
		case 6: // ClientCutText
			b, err := readFull(r, 7)
			if err != nil {
				return fmt.Errorf("client cut text: %w", err)
			}
			if _, err := r.Discard(int(binary.BigEndian.Uint32(b[3:]))); err != nil {
				return fmt.Errorf("client cut text: %w", err)
			}
		default:
			return fmt.Errorf("%w: client message type %d", ErrProtocol, t)
		}
	}
}

// writeClient sends an update whenever the client has asked for one and something changed.
func (s *session) writeClient(w *bufio.Writer) error {
	for {
		s.mu.Lock()
		for !s.closed && !(s.ready && s.pending && len(s.dirty) > 0) {
			s.cond.Wait()
		}
		if s.closed {
			err := s.err
			s.mu.Unlock()
			return err
		}
		rects := coalesce(s.dirty, image.Rect(0, 0, s.width, s.height))
		s.dirty = s.dirty[:0]
		s.pending = false
		// Encode under the lock: the upstream reader must not change pixels mid-rectangle.
		var body []byte
		for _, r := range rects {
			body = s.enc.encode(body, s.fb, s.width, r)
		}
		s.mu.Unlock()
		hdr := []byte{0, 0}
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(rects)))
		if _, err := w.Write(hdr); err != nil {
			return fmt.Errorf("client write: %w", err)
		}
		if _, err := w.Write(body); err != nil {
			return fmt.Errorf("client write: %w", err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("client write: %w", err)
		}
	}
}

// coalesce merges overlapping rectangles and falls back to their bounding box when there are many.
func coalesce(in []image.Rectangle, bounds image.Rectangle) []image.Rectangle {
	var out []image.Rectangle
	for _, r := range in {
		r = r.Intersect(bounds)
		if r.Empty() {
			continue
		}
		merged := true
		for merged {
			merged = false
			for i, o := range out {
				if o.Overlaps(r) {
					r = r.Union(o)
					out = append(out[:i], out[i+1:]...)
					merged = true
					break
				}
			}
		}
		out = append(out, r)
	}
	if len(out) > 32 {
		u := out[0]
		for _, r := range out[1:] {
			u = u.Union(r)
		}
		return []image.Rectangle{u}
	}
	return out
}
