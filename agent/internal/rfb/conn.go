package rfb

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// readBufferSize is the bufio.Reader size in front of the socket: a 800x600 Raw update is 1.9 MB, so rows are read
// in few syscalls (and rectangles wider than the buffer go straight from the socket into the framebuffer).
const readBufferSize = 1 << 20

// writeTimeout bounds one message write, so a server that stops reading cannot block input callers forever.
const writeTimeout = 5 * time.Second

// dial connects to "unix:/path" or "host:port".
func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return d.DialContext(ctx, "unix", path)
	}
	return d.DialContext(ctx, "tcp", addr)
}

// bufConn is the net.Conn given to go-vnc: reads through a large buffer, writes serialized by a mutex (each message
// in one Write), the first read error remembered, and a channel closed when the connection is closed.
type bufConn struct {
	net.Conn
	br *bufio.Reader

	rmu     sync.Mutex
	readErr error

	wmu  sync.Mutex
	wbuf [20]byte

	closeOnce sync.Once
	closed    chan struct{}

	// The handshake guard: go-vnc allocates whatever length a server announces for its desktop name or failure
	// reason. During the handshake each client write arms a check of what the server sends next, run by the next
	// Read on bytes the server must send anyway (bufio.Reader.Peek).
	hsWrites int                          // client writes during the handshake
	check    atomic.Pointer[func() error] // the armed check
	guarding atomic.Bool
}

// maxHandshakeText bounds a desktop name or failure reason announced during the handshake.
const maxHandshakeText = 64 << 10

func newBufConn(c net.Conn) *bufConn {
	bc := &bufConn{Conn: c, br: bufio.NewReaderSize(c, readBufferSize), closed: make(chan struct{})}
	bc.guarding.Store(true)
	return bc
}

// arm sets the check for the server's next bytes after the n-th client handshake write.
func (c *bufConn) arm(n int) {
	var check func() error
	switch n {
	case 1: // after ProtocolVersion: u8 number of security types; 0 means a u32 length and a reason follow
		check = func() error {
			b, err := c.br.Peek(1)
			if err != nil || b[0] != 0 {
				return nil
			}
			return c.checkLength(1, "security failure reason")
		}
	case 2: // after the security type (None): u32 SecurityResult; 1 means a u32 length and a reason follow
		check = func() error {
			b, err := c.br.Peek(4)
			if err != nil || binary.BigEndian.Uint32(b) != 1 {
				return nil
			}
			return c.checkLength(4, "security result reason")
		}
	case 3: // after ClientInit: ServerInit, whose name length is at offset 20
		check = func() error {
			c.guarding.Store(false)
			return c.checkLength(20, "desktop name")
		}
	default:
		return
	}
	c.check.Store(&check)
}

// checkLength peeks at a u32 length at offset off and refuses one above maxHandshakeText.
func (c *bufConn) checkLength(off int, what string) error {
	b, err := c.br.Peek(off + 4)
	if err != nil {
		return nil // the read that follows reports it
	}
	if n := binary.BigEndian.Uint32(b[off:]); n > maxHandshakeText {
		return fmt.Errorf("%w: %s of %d bytes announced (max %d)", ErrMalformed, what, n, maxHandshakeText)
	}
	return nil
}

func (c *bufConn) Read(p []byte) (int, error) {
	if check := c.check.Swap(nil); check != nil {
		if err := (*check)(); err != nil {
			c.recordReadError(err)
			return 0, err
		}
	}
	n, err := c.br.Read(p)
	if err != nil {
		c.recordReadError(err)
	}
	return n, err
}

func (c *bufConn) recordReadError(err error) {
	c.rmu.Lock()
	if c.readErr == nil {
		c.readErr = err
	}
	c.rmu.Unlock()
}

// ReadError returns the first read error seen, or nil.
func (c *bufConn) ReadError() error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readErr
}

func (c *bufConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.guarding.Load() {
		c.hsWrites++
		c.arm(c.hsWrites)
	}
	return c.writeLocked(p)
}

func (c *bufConn) writeLocked(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := c.Conn.Write(p)
	if err != nil {
		return n, fmt.Errorf("%w: write: %w", ErrConnectionLost, err)
	}
	return n, nil
}

func (c *bufConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		close(c.closed)
	})
	return err
}

// Done is closed when the connection is closed (by go-vnc's loop ending, or by us).
func (c *bufConn) Done() <-chan struct{} { return c.closed }

// The message writers below fill c.wbuf under c.wmu, so sending input allocates nothing.

func (c *bufConn) writePointer(mask uint8, x, y uint16) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:6]
	b[0], b[1] = clientPointerEvent, mask
	binary.BigEndian.PutUint16(b[2:], x)
	binary.BigEndian.PutUint16(b[4:], y)
	_, err := c.writeLocked(b)
	return err
}

func (c *bufConn) writeKey(down bool, keysym uint32) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:8]
	b[0], b[1], b[2], b[3] = clientKeyEvent, boolByte(down), 0, 0
	binary.BigEndian.PutUint32(b[4:], keysym)
	_, err := c.writeLocked(b)
	return err
}

func (c *bufConn) writeExtKey(down bool, keysym, keycode uint32) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:12]
	b[0], b[1], b[2], b[3] = clientQEMU, qemuExtendedKeyEvent, 0, boolByte(down)
	binary.BigEndian.PutUint32(b[4:], keysym)
	binary.BigEndian.PutUint32(b[8:], keycode)
	_, err := c.writeLocked(b)
	return err
}

func (c *bufConn) writeUpdateRequest(incremental bool, x, y, w, h uint16) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:10]
	b[0], b[1] = clientUpdateRequest, boolByte(incremental)
	binary.BigEndian.PutUint16(b[2:], x)
	binary.BigEndian.PutUint16(b[4:], y)
	binary.BigEndian.PutUint16(b[6:], w)
	binary.BigEndian.PutUint16(b[8:], h)
	_, err := c.writeLocked(b)
	return err
}

// writePixelFormatBGRX asks for 32-bit little-endian true colour with red at bit 16, green 8, blue 0.
func (c *bufConn) writePixelFormatBGRX() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wbuf[:20]
	clear(b)
	b[0] = clientSetPixelFormat
	pf := b[4:]
	pf[0], pf[1], pf[2], pf[3] = 32, 24, 0, 1 // bpp, depth, big-endian, true colour
	binary.BigEndian.PutUint16(pf[4:], 255)
	binary.BigEndian.PutUint16(pf[6:], 255)
	binary.BigEndian.PutUint16(pf[8:], 255)
	pf[10], pf[11], pf[12] = 16, 8, 0
	_, err := c.writeLocked(b)
	return err
}

func (c *bufConn) writeEncodings(encs []int32) error {
	b := make([]byte, 4+4*len(encs))
	b[0] = clientSetEncodings
	binary.BigEndian.PutUint16(b[2:], uint16(len(encs)))
	for i, e := range encs {
		binary.BigEndian.PutUint32(b[4+4*i:], uint32(e))
	}
	_, err := c.Write(b)
	return err
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
