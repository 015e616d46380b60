package rfb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	vnc "github.com/mitchellh/go-vnc"
)

// session is one connection: go-vnc's handshake and loop, with this package's message readers.
type session struct {
	client *Client
	conn   *bufConn
	dec    decoder
	info   updateInfo

	handshakeDone bool

	errMu sync.Mutex
	err   error // first specific error, set by a message reader before it gives up

	reqMu    sync.Mutex
	inflight bool // an update request awaits its answer
	needFull bool // the next request must be non-incremental (after a mode change)
}

// fail records the first specific error of the session and returns err.
func (s *session) fail(err error) error {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
	return err
}

func (s *session) failure() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func (s *session) run(ctx context.Context) error {
	c := s.client
	var nc net.Conn
	var err error
	if c.dialer != nil {
		nc, err = c.dialer(ctx)
	} else {
		nc, err = dial(ctx, c.cfg.Addr, c.cfg.DialTimeout)
	}
	if err != nil {
		return fmt.Errorf("%w: dial %s: %w", ErrConnectionLost, c.cfg.Addr, err)
	}
	s.conn = newBufConn(nc)
	s.dec = decoder{r: s.conn.br, fb: c.cfg.Framebuffer}
	stop := context.AfterFunc(ctx, func() { _ = s.conn.Close() })
	defer stop()
	defer s.conn.Close()

	_ = nc.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
	vc, err := vnc.Client(s.conn, &vnc.ClientConfig{Exclusive: c.cfg.Exclusive, ServerMessages: s.messages()})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if rerr := s.conn.ReadError(); errors.Is(rerr, ErrMalformed) {
			err = rerr
		}
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	_ = nc.SetDeadline(time.Time{})
	s.handshakeDone = true

	w := c.cfg.Framebuffer.BeginWrite()
	err = w.Resize(int(vc.FrameBufferWidth), int(vc.FrameBufferHeight))
	w.End()
	if err != nil {
		return fmt.Errorf("%w: ServerInit: %w", ErrMalformed, err)
	}
	c.mode.Store(&Mode{
		Width: int(vc.FrameBufferWidth), Height: int(vc.FrameBufferHeight),
		GuestBPP: int(vc.PixelFormat.BPP), GuestDepth: int(vc.PixelFormat.Depth), Name: vc.DesktopName,
	})
	c.relative.Store(false)
	c.absolute.Store(false)
	c.extKeys.Store(false)
	c.connects.Add(1)
	c.cur.Store(s)
	c.connected.Store(true)
	c.log.Info("vnc connected", "width", vc.FrameBufferWidth, "height", vc.FrameBufferHeight,
		"server_bpp", vc.PixelFormat.BPP, "name", vc.DesktopName)
	c.changes.Notify()
	defer func() {
		c.cur.CompareAndSwap(s, nil)
		c.connected.Store(false)
		c.relative.Store(false)
		c.absolute.Store(false)
		c.extKeys.Store(false)
		c.disconnects.Add(1)
		c.changes.Notify()
	}()

	if err := s.start(); err != nil {
		// The write failed because the connection broke; the message loop may be about to report why (a server
		// that sent garbage and closed), which is the better reason.
		select {
		case <-s.conn.Done():
		case <-time.After(time.Second):
		}
		if ferr := s.failure(); ferr != nil {
			return ferr
		}
		return err
	}
	<-s.conn.Done()
	return s.endReason(ctx)
}

// start sends the pixel format, the encodings and the first (full) update request.
func (s *session) start() error {
	if err := s.conn.writePixelFormatBGRX(); err != nil {
		return fmt.Errorf("SetPixelFormat: %w", err)
	}
	if err := s.conn.writeEncodings(requestedEncodings); err != nil {
		return fmt.Errorf("SetEncodings: %w", err)
	}
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	s.needFull = true
	return s.requestLocked()
}

// requestLocked sends the next update request for the whole framebuffer. Call with reqMu held.
func (s *session) requestLocked() error {
	w, h := s.client.cfg.Framebuffer.Size()
	incremental := !s.needFull
	s.needFull = false
	s.inflight = true
	if err := s.conn.writeUpdateRequest(incremental, 0, 0, uint16(w), uint16(h)); err != nil {
		return fmt.Errorf("FramebufferUpdateRequest: %w", err)
	}
	return nil
}

// endReason explains why the connection closed.
func (s *session) endReason(ctx context.Context) error {
	if err := s.failure(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rerr := s.conn.ReadError()
	switch {
	case rerr == nil:
		return fmt.Errorf("%w: closed", ErrConnectionLost)
	case errors.Is(rerr, io.EOF):
		return fmt.Errorf("%w: server closed the connection", ErrConnectionLost)
	default:
		return fmt.Errorf("%w: %w", ErrConnectionLost, rerr)
	}
}

// onUpdate reads one FramebufferUpdate, publishes what it said and sends the next request when it was an answer.
func (s *session) onUpdate() error {
	c := s.client
	_ = s.conn.SetReadDeadline(time.Now().Add(c.cfg.UpdateTimeout))
	err := s.dec.readUpdate(&s.info)
	_ = s.conn.SetReadDeadline(time.Time{})
	if err != nil {
		return err
	}
	info := &s.info
	if info.pixelRects > 0 {
		c.updates.Mark()
		c.pixelBytes.Add(uint64(info.bytes))
	}
	changed := false
	if info.resized {
		c.resize.Add(1)
		m := c.Mode()
		m.Width, m.Height = info.width, info.height
		c.mode.Store(&m)
		c.log.Info("vnc mode changed", "width", info.width, "height", info.height)
		changed = true
	}
	switch info.pointer {
	case pointerRelative:
		changed = changed || !c.relative.Load()
		c.relative.Store(true)
		c.absolute.Store(false)
	case pointerAbsolute:
		changed = changed || !c.absolute.Load()
		c.relative.Store(false)
		c.absolute.Store(true)
	}
	if info.extKeyAck && !c.extKeys.Load() {
		c.extKeys.Store(true)
		changed = true
	}
	if changed {
		c.changes.Notify()
	}

	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	if info.resized {
		s.needFull = true
	}
	if !info.answers() {
		return nil
	}
	if info.covered {
		s.needFull = false
	}
	return s.requestLocked()
}

// messages returns go-vnc server message readers for all 256 types: ours for the four RFB types, and one that
// ends the connection with ErrUnknownMessage for every other.
func (s *session) messages() []vnc.ServerMessage {
	msgs := make([]vnc.ServerMessage, 0, 256)
	msgs = append(msgs, &updateMessage{s}, &colourMapMessage{s}, &bellMessage{}, &cutTextMessage{s})
	for t := 4; t < 256; t++ {
		msgs = append(msgs, &unknownMessage{s, uint8(t)})
	}
	return msgs
}
