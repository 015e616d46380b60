package agentlink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Conn is one agent's Attach stream, seen from the broker.
type Conn struct {
	id    string
	gen   uint64
	hello *locov1.AgentHello
	ctx   context.Context
	send  chan *locov1.BrokerMessage

	stream locov1.Broker_AttachServer
	cancel context.CancelCauseFunc
	// writing is set while a writer goroutine drains send; sendMu keeps two of them from writing at once.
	writing atomic.Bool
	sendMu  sync.Mutex

	mu      sync.Mutex
	pending map[string]chan *locov1.AgentMessage
	err     error
}

func newConn(id string, gen uint64, hello *locov1.AgentHello, buf int, stream locov1.Broker_AttachServer,
	ctx context.Context, cancel context.CancelCauseFunc) *Conn {
	return &Conn{id: id, gen: gen, hello: hello, ctx: ctx, stream: stream, cancel: cancel,
		send: make(chan *locov1.BrokerMessage, buf), pending: map[string]chan *locov1.AgentMessage{}}
}

// ID is the instance id the agent serves.
func (c *Conn) ID() string { return c.id }

// Gen is the stream's generation; a newer Attach has a higher one.
func (c *Conn) Gen() uint64 { return c.gen }

// Hello is what the agent said when it attached. Read-only.
func (c *Conn) Hello() *locov1.AgentHello { return c.hello }

// Done is closed when the stream ends.
func (c *Conn) Done() <-chan struct{} { return c.ctx.Done() }

// Send queues a message for the agent. It fails when the stream ended or ctx ends before the message is queued.
func (c *Conn) Send(ctx context.Context, m *locov1.BrokerMessage) error {
	select {
	case c.send <- m:
	case <-c.ctx.Done():
		return fmt.Errorf("agent %s: %w", c.id, ErrDetached)
	case <-ctx.Done():
		return fmt.Errorf("agent %s: queue message: %w", c.id, ctx.Err())
	}
	if c.writing.CompareAndSwap(false, true) {
		go c.write()
	}
	return nil
}

// write sends the queued messages in order until none is left. A failed write ends the stream (and the writing
// flag stays set: nothing more is written to it); so does the end of the stream, after which nothing is written.
func (c *Conn) write() {
	for {
		for drained := false; !drained; {
			select {
			case m := <-c.send:
				c.sendMu.Lock()
				err := c.ctx.Err()
				if err == nil {
					err = c.stream.Send(m)
				}
				c.sendMu.Unlock()
				if err != nil {
					c.cancel(fmt.Errorf("%w: %w", errSendFailed, err))
					return
				}
			default:
				drained = true
			}
		}
		c.writing.Store(false)
		// A message queued after the drain, while the flag was still set, started no writer: take it here.
		if len(c.send) == 0 || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// Request sends m and waits for the agent message that answers ref: the reply, or an AgentError (returned as
// *AgentError). It fails with ErrDetached when the stream ends first and with ctx's error on timeout.
func (c *Conn) Request(ctx context.Context, ref string, m *locov1.BrokerMessage) (*locov1.AgentMessage, error) {
	ch := make(chan *locov1.AgentMessage, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("agent %s: %w", c.id, c.err)
	}
	if _, dup := c.pending[ref]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("agent %s: request %q: %w", c.id, ref, ErrDuplicateRef)
	}
	c.pending[ref] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pending[ref] == ch {
			delete(c.pending, ref)
		}
		c.mu.Unlock()
	}()
	if err := c.Send(ctx, m); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if e := r.GetError(); e != nil {
			return nil, &AgentError{Instance: c.id, Code: e.GetCode(), Message: e.GetMessage()}
		}
		return r, nil
	case <-c.ctx.Done():
		return nil, fmt.Errorf("agent %s: %w", c.id, ErrDetached)
	case <-ctx.Done():
		return nil, fmt.Errorf("agent %s: waiting for reply to %q: %w", c.id, ref, ctx.Err())
	}
}

// deliver hands an agent message to the request waiting for ref, if any.
func (c *Conn) deliver(ref string, m *locov1.AgentMessage) {
	if ref == "" {
		return
	}
	c.mu.Lock()
	ch := c.pending[ref]
	delete(c.pending, ref)
	c.mu.Unlock()
	if ch != nil {
		ch <- m
	}
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// Control asks the agent to hand control to viewerID ("" releases it) and returns the resulting controller (nil
// when nobody holds control).
func (c *Conn) Control(ctx context.Context, viewerID string) (*locov1.Viewer, error) {
	ref := NewID()
	r, err := c.Request(ctx, ref, &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Control{
		Control: &locov1.ControlChange{RequestId: ref, ViewerId: viewerID}}})
	if err != nil {
		return nil, err
	}
	st := r.GetControl()
	if st == nil {
		return nil, fmt.Errorf("agent %s: control reply %T: %w", c.id, r.GetKind(), ErrUnexpectedReply)
	}
	if st.GetController().GetId() == "" {
		return nil, nil
	}
	return st.GetController(), nil
}

// Screenshot asks the agent for a PNG of its framebuffer.
func (c *Conn) Screenshot(ctx context.Context) (*locov1.ScreenshotResult, error) {
	ref := NewID()
	r, err := c.Request(ctx, ref, &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Screenshot{
		Screenshot: &locov1.CaptureScreenshot{RequestId: ref}}})
	if err != nil {
		return nil, err
	}
	s := r.GetScreenshot()
	if s == nil {
		return nil, fmt.Errorf("agent %s: screenshot reply %T: %w", c.id, r.GetKind(), ErrUnexpectedReply)
	}
	return s, nil
}

// Restart asks the agent to restart its emulator and waits until it confirms.
func (c *Conn) Restart(ctx context.Context, kind locov1.RestartKind, reason string) error {
	ref := NewID()
	r, err := c.Request(ctx, ref, &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Restart{
		Restart: &locov1.RestartRequest{RequestId: ref, Kind: kind, Reason: reason}}})
	if err != nil {
		return err
	}
	if r.GetRestartDone() == nil {
		return fmt.Errorf("agent %s: restart reply %T: %w", c.id, r.GetKind(), ErrUnexpectedReply)
	}
	return nil
}

// NewID returns a random 128-bit identifier in hex, for session and request ids.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
