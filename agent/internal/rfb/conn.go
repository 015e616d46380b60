package rfb

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
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
}

func newBufConn(c net.Conn) *bufConn {
	return &bufConn{Conn: c, br: bufio.NewReaderSize(c, readBufferSize), closed: make(chan struct{})}
}

func (c *bufConn) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	if err != nil {
		c.rmu.Lock()
		if c.readErr == nil {
			c.readErr = err
		}
		c.rmu.Unlock()
	}
	return n, err
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
