package vncsynth

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a [Server]. Zero fields take the defaults.
type Config struct {
	// Scene is "town" (default), "motion" or "still".
	Scene string
	// Width and Height are the initial mode (default 800x600).
	Width, Height int
	// BPP is the server's pixel depth, 16 or 32 (default 32). With 16 the picture uses RGB565 colours only and
	// ServerInit announces a 16-bit format; clients still get the format they set.
	BPP int
	// FPS is the frame rate of the scene (default 30).
	FPS int
	// Label names the instance; it is drawn in the band and picks the band's colour (default "loco").
	Label string
	// AbsolutePointer announces -257 with absolute mode (a tablet) instead of relative mode (a PS/2 mouse).
	AbsolutePointer bool
	// PaintLog, when set, receives one JSON line per painted frame ({"frame":..,"stamp":..,"unix_nano":..}).
	PaintLog io.Writer
	// OnEvent, when set, is called with every input event (after it is recorded).
	OnEvent func(Event)
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Server is a synthetic VNC server. Create with [New], serve with [Server.Serve]; the other methods are safe for
// concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	j   *journal

	mu       sync.RWMutex
	pic      *picture
	sc       *scene
	frame    uint64
	px, py   int
	moved    bool // the pointer moved since the last paint
	cursorAt image.Rectangle
	paused   bool
	dirty    []image.Rectangle

	cmu     sync.Mutex
	clients map[*client]struct{}

	done chan struct{} // closed when Serve returns

	requests, updates, overlapping atomic.Uint64
}

// Stats are a server's protocol counters, over all clients.
type Stats struct {
	// Requests counts FramebufferUpdateRequests received; Updates the FramebufferUpdates that answered one.
	Requests, Updates uint64
	// Overlapping counts requests that arrived while an earlier one was still unanswered (a client that keeps
	// exactly one request in flight never causes one).
	Overlapping uint64
}

// Stats returns the protocol counters.
func (s *Server) Stats() Stats {
	return Stats{Requests: s.requests.Load(), Updates: s.updates.Load(), Overlapping: s.overlapping.Load()}
}

// New returns a server with its first frame (number 0) painted.
func New(cfg Config) (*Server, error) {
	if cfg.Scene == "" {
		cfg.Scene = SceneTown
	}
	switch cfg.Scene {
	case SceneTown, SceneMotion, SceneStill:
	default:
		return nil, fmt.Errorf("%w: scene %q (want town, motion or still)", ErrConfig, cfg.Scene)
	}
	if cfg.Width == 0 && cfg.Height == 0 {
		cfg.Width, cfg.Height = 800, 600
	}
	if err := checkMode(cfg.Width, cfg.Height); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.BPP == 0 {
		cfg.BPP = 32
	}
	if cfg.BPP != 16 && cfg.BPP != 32 {
		return nil, fmt.Errorf("%w: bpp %d (want 16 or 32)", ErrConfig, cfg.BPP)
	}
	if cfg.FPS <= 0 {
		cfg.FPS = 30
	}
	if cfg.Label == "" {
		cfg.Label = "loco"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		j:       newJournal(cfg.PaintLog, cfg.OnEvent),
		clients: map[*client]struct{}{},
		done:    make(chan struct{}),
		sc:      &scene{name: cfg.Scene, label: cfg.Label, colour: labelColour(cfg.Label), bpp: cfg.BPP},
	}
	s.mu.Lock()
	s.px, s.py = cfg.Width/2, cfg.Height/2
	s.resetLocked(cfg.Width, cfg.Height)
	s.mu.Unlock()
	return s, nil
}

func checkMode(w, h int) error {
	if w < StampWidth || h < 2*bandHeight || w > 4096 || h > 4096 {
		return fmt.Errorf("%w: %dx%d (width %d..4096, height %d..4096)", ErrMode, w, h, StampWidth, 2*bandHeight)
	}
	return nil
}

// resetLocked lays the scene out at w x h and paints a new frame.
func (s *Server) resetLocked(w, h int) {
	s.pic = newPicture(w, h, s.cfg.BPP == 16)
	s.sc.layout(s.pic)
	s.px, s.py = min(s.px, w-1), min(s.py, h-1)
	s.cursorAt = image.Rectangle{}
	s.drawCursorLocked()
	s.pic.drawStamp(s.frame)
	s.j.addPaint(s.frame, time.Now())
}

// Serve accepts clients on ln and paints frames until ctx is done; then it closes ln and every client. Call it
// once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer close(s.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.paintLoop(ctx)
	}()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer wg.Wait()
	defer s.closeClients()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("vncsynth: accept: %w", err)
		}
		c := newClient(s, nc)
		s.cmu.Lock()
		s.clients[c] = struct{}{}
		s.cmu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.serve(ctx)
			s.cmu.Lock()
			delete(s.clients, c)
			s.cmu.Unlock()
			if err != nil && ctx.Err() == nil {
				s.log.Info("vncsynth client ended", "remote", nc.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// Done is closed when Serve has returned and every client goroutine has ended.
func (s *Server) Done() <-chan struct{} { return s.done }

// Start creates a server, listens on listen ("unix:/path" or "host:port"; port 0 picks a free one) and serves in
// the background until ctx is done (wait on [Server.Done] after cancelling). addr is what a client dials: "unix:/path"
// or the actual "host:port".
//
//	ctx, cancel := context.WithCancel(context.Background())
//	srv, addr, err := vncsynth.Start(ctx, vncsynth.Config{Scene: vncsynth.SceneTown}, "127.0.0.1:0")
//	t.Cleanup(func() { cancel(); <-srv.Done() })
func Start(ctx context.Context, cfg Config, listen string) (srv *Server, addr string, err error) {
	srv, err = New(cfg)
	if err != nil {
		return nil, "", err
	}
	ln, err := Listen(listen)
	if err != nil {
		return nil, "", fmt.Errorf("vncsynth: listen %s: %w", listen, err)
	}
	addr = listen
	if ln.Addr().Network() == "tcp" {
		addr = ln.Addr().String()
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	return srv, addr, nil
}

// Listen listens on "unix:/path" (removing a stale socket file) or "host:port".
func Listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		_ = os.Remove(path)
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

func (s *Server) closeClients() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for c := range s.clients {
		c.close()
	}
}

func (s *Server) paintLoop(ctx context.Context) {
	t := time.NewTicker(time.Second / time.Duration(s.cfg.FPS))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Step()
		}
	}
}

// Step paints the next frame now if anything changes (the scene's animation, or the pointer marker). The paint
// loop calls it at the frame rate; tests may call it directly (with Pause to stop the loop).
func (s *Server) Step() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return
	}
	s.stepLocked()
}

func (s *Server) stepLocked() {
	dirty := s.dirty[:0]
	if s.moved && s.sc.bg != nil && !s.cursorAt.Empty() {
		s.pic.copyFrom(s.sc.bg, s.cursorAt) // erase the old marker before the trains are redrawn
		dirty = append(dirty, s.cursorAt)
	}
	dirty = s.sc.step(s.pic, s.frame+1, dirty)
	if len(dirty) > 0 || s.moved {
		dirty = append(dirty, s.drawCursorLocked())
	}
	s.moved = false
	if len(dirty) == 0 {
		s.dirty = dirty
		return
	}
	s.frame++
	s.pic.drawStamp(s.frame)
	dirty = append(dirty, StampRect)
	s.j.addPaint(s.frame, time.Now())
	s.dirty = dirty
	s.forClients(func(c *client) { c.addDirty(dirty) })
}

// drawCursorLocked draws the pointer marker and returns its rectangle.
func (s *Server) drawCursorLocked() image.Rectangle {
	x, y := s.px, s.py
	s.pic.fill(rect(x-5, y-1, 11, 3), black)
	s.pic.fill(rect(x-1, y-5, 3, 11), black)
	s.pic.fill(rect(x-4, y, 9, 1), white)
	s.pic.fill(rect(x, y-4, 1, 9), white)
	s.cursorAt = rect(x-5, y-5, 11, 11).Intersect(s.pic.bounds())
	return s.cursorAt
}

func (s *Server) forClients(fn func(*client)) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for c := range s.clients {
		fn(c)
	}
}

// SetMode changes the screen size: the scene is laid out again, a new frame is painted and clients that announced
// DesktopSize are told.
func (s *Server) SetMode(width, height int) error {
	if err := checkMode(width, height); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frame++
	s.resetLocked(width, height)
	s.forClients(func(c *client) { c.resized() })
	return nil
}

// Mode returns the current size.
func (s *Server) Mode() (width, height int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pic.w, s.pic.h
}

// Pause stops (true) or restarts (false) the scene's animation; pointer markers are still drawn by Step.
func (s *Server) Pause(paused bool) {
	s.mu.Lock()
	s.paused = paused
	s.mu.Unlock()
}

// Frame returns the number of the last painted frame.
func (s *Server) Frame() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.frame
}

// Snapshot returns a copy of the picture as BGRX rows (stride width*4) and the frame number it shows.
func (s *Server) Snapshot() (width, height int, pix []byte, frame uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pic.w, s.pic.h, append([]byte(nil), s.pic.pix...), s.frame
}

// Events returns the input events with a sequence number above since (0: all kept).
func (s *Server) Events(since uint64) []Event { return s.j.eventsSince(since) }

// Paints returns the paint records of frames above since (-1: all kept).
func (s *Server) Paints(since int64) []Paint { return s.j.paintsSince(since) }

// PaintTime returns when the latest frame with this 16-bit stamp was painted.
func (s *Server) PaintTime(stamp uint16) (time.Time, bool) {
	p, ok := s.j.paintOfStamp(stamp)
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, p.UnixNano), true
}

// Clients returns the number of connected clients.
func (s *Server) Clients() int {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return len(s.clients)
}

// SendRaw writes b, unframed, to every connected client: for tests of a client's handling of garbage.
func (s *Server) SendRaw(b []byte) error {
	var errs []error
	s.forClients(func(c *client) { errs = append(errs, c.writeRaw(b)) })
	return errors.Join(errs...)
}

// DisconnectAll closes every client connection.
func (s *Server) DisconnectAll() { s.closeClients() }

// pointer records a pointer event and moves the marker.
func (s *Server) pointer(buttons uint8, x, y int, relative bool) {
	ev := Event{Kind: KindPointerAbs, Buttons: buttons, X: x, Y: y}
	if relative {
		ev.Kind = KindPointerRel
	}
	s.j.addEvent(ev)
	s.mu.Lock()
	defer s.mu.Unlock()
	px, py := x, y
	if relative {
		px, py = s.px+x, s.py+y
	}
	px, py = max(0, min(px, s.pic.w-1)), max(0, min(py, s.pic.h-1))
	if px != s.px || py != s.py {
		s.px, s.py, s.moved = px, py, true
	}
}
