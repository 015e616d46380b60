package rfb

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// Config configures a [Client]. Zero durations take the defaults.
type Config struct {
	// Addr is the VNC server: "unix:/path/to/socket" or "host:port".
	Addr string
	// Framebuffer receives the pixels (required).
	Framebuffer *capture.Framebuffer
	// Logger gets connection events; nil means slog.Default().
	Logger *slog.Logger
	// DialTimeout bounds connecting plus the RFB handshake (default 10 s).
	DialTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts, doubling from min to max
	// (defaults 100 ms and 5 s). The wait restarts from MinBackoff after a connection that worked.
	MinBackoff, MaxBackoff time.Duration
	// UpdateTimeout bounds the time to read one FramebufferUpdate message once it started (default 10 s): a server
	// that stalls mid-update would otherwise hold the framebuffer lock.
	UpdateTimeout time.Duration
	// Exclusive asks the server to disconnect other clients (RFB shared-flag 0). Default: shared.
	Exclusive bool
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.UpdateTimeout <= 0 {
		c.UpdateTimeout = 10 * time.Second
	}
}

// Mode is the server's screen mode.
type Mode struct {
	Width, Height int
	// GuestBPP and GuestDepth are the bits per pixel and depth of the server's own pixel format from ServerInit,
	// a hint of the guest's colour depth (the client always receives 32-bit pixels). QEMU 7.2 always announces
	// 32/24 whatever the guest's mode, so with QEMU it says nothing; vncsynth announces its --bpp.
	GuestBPP, GuestDepth int
	// Name is the desktop name from ServerInit.
	Name string
}

// Stats are a client's counters since it was created.
type Stats struct {
	Connected        bool
	Connects         uint64  // successful handshakes
	Disconnects      uint64  // connections that ended
	Updates          uint64  // FramebufferUpdate messages with pixels
	UpdatesPerSecond float64 // of those, in the last second
	PixelBytes       uint64  // Raw pixel bytes received
	Resizes          uint64  // DesktopSize changes
	RelFlushes       uint64  // zero-motion events sent after relative motion ([Client.PointerRel])
	LastError        error   // why the last connection (or attempt) ended; nil if none yet
}

// Client is a reconnecting RFB client bound to one framebuffer. Create with [New], start with [Client.Run]; the
// other methods are safe for concurrent use at any time.
type Client struct {
	cfg Config
	log *slog.Logger

	cur       atomic.Pointer[session]
	connected atomic.Bool
	relative  atomic.Bool // server announced PointerTypeChange with relative mode
	absolute  atomic.Bool // server announced PointerTypeChange with absolute mode
	extKeys   atomic.Bool // server acknowledged ExtendedKeyEvent
	mode      atomic.Pointer[Mode]

	updates                                   capture.RateMeter
	connects, disconnects, pixelBytes, resize atomic.Uint64
	lastErr                                   atomic.Pointer[error]

	changes capture.Notifier

	// Relative pointer motion and the zero-motion events that flush what QEMU holds ([Client.PointerRel]).
	relMu        sync.Mutex
	relButtons   uint8       // buttons of the last relative event
	relFlush     *time.Timer // runs flushRel
	relFlushStep int         // index into relFlushAfter of the next flush; len(relFlushAfter) when done
	relFlushes   atomic.Uint64

	dialer func(ctx context.Context) (net.Conn, error) // replaces dialing Addr in tests
}

// New returns a client; it does not connect until [Client.Run].
func New(cfg Config) *Client {
	cfg.defaults()
	c := &Client{cfg: cfg, log: cfg.Logger.With("vnc", cfg.Addr)}
	c.mode.Store(&Mode{})
	return c
}

// Framebuffer returns the framebuffer the client writes.
func (c *Client) Framebuffer() *capture.Framebuffer { return c.cfg.Framebuffer }

// Connected reports whether a connection is up (handshake done).
func (c *Client) Connected() bool { return c.connected.Load() }

// Mode returns the current screen mode (zero before the first connection).
func (c *Client) Mode() Mode { return *c.mode.Load() }

// UpdatesPerSecond returns the framebuffer updates with pixels received in the last second.
func (c *Client) UpdatesPerSecond() float64 { return c.updates.Rate() }

// Relative reports whether the server takes relative pointer motion ([Client.PointerRel]): it announced QEMU
// PointerTypeChange (-257) with relative mode on the current connection.
func (c *Client) Relative() bool { return c.relative.Load() }

// ExtendedKeys reports whether the server acknowledged QEMU ExtendedKeyEvent (-258) on the current connection, so
// [Client.Key] sends XT scan codes.
func (c *Client) ExtendedKeys() bool { return c.extKeys.Load() }

// Stats returns the counters.
func (c *Client) Stats() Stats {
	s := Stats{
		Connected:        c.connected.Load(),
		Connects:         c.connects.Load(),
		Disconnects:      c.disconnects.Load(),
		Updates:          c.updates.Total(),
		UpdatesPerSecond: c.updates.Rate(),
		PixelBytes:       c.pixelBytes.Load(),
		Resizes:          c.resize.Load(),
		RelFlushes:       c.relFlushes.Load(),
	}
	if e := c.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// Subscribe registers ch (give it capacity 1) for a non-blocking signal whenever the connection state, the mode or
// the pointer/key capabilities change. Signals coalesce. Unsubscribe with the returned function.
func (c *Client) Subscribe(ch chan<- struct{}) (unsubscribe func()) { return c.changes.Subscribe(ch) }

// Run connects and keeps reconnecting with exponential back-off until ctx is done; then it closes the connection
// and returns ctx.Err(). Every connection's end is logged with its specific error.
func (c *Client) Run(ctx context.Context) error {
	backoff := c.cfg.MinBackoff
	for {
		worked, err := c.Session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if worked {
			backoff = c.cfg.MinBackoff
		}
		c.log.Warn("vnc connection ended, reconnecting", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
	}
}

// Session runs one connection until it ends, and returns why (never nil). worked is true when the handshake
// succeeded. [Client.Run] calls it in a loop; tests may call it directly.
func (c *Client) Session(ctx context.Context) (worked bool, err error) {
	s := &session{client: c}
	err = s.run(ctx)
	worked = s.handshakeDone
	if err == nil {
		err = ErrConnectionLost
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		err = ctx.Err()
	}
	c.lastErr.Store(&err)
	return worked, err
}

// WriteMessage sends p, one complete client message, on the current connection without interleaving with the
// client's own messages (for example another QEMU type 255 message).
func (c *Client) WriteMessage(p []byte) error {
	s := c.cur.Load()
	if s == nil {
		return ErrNotConnected
	}
	_, err := s.conn.Write(p)
	return err
}
