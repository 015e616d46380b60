// Package attach is the agent's side of loco.v1.Broker.Attach: it dials the broker, sends the hello, a health
// report every second and the agent's events (control state, sessions ended), and serves the broker's requests
// (SDP offers, session closes, control changes, restarts, screenshots). When the stream breaks it reconnects with
// back-off, forever, until its context ends.
package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loco-cluster/loco/agent/internal/webrtc"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Errors.
var (
	// ErrNoBroker is returned by New without a broker address.
	ErrNoBroker = errors.New("attach: no broker address")
	// ErrNoSupervisor is the error a restart request gets when the agent does not supervise QEMU.
	ErrNoSupervisor = errors.New("attach: the agent does not supervise QEMU (started with --vnc)")
)

// Media is what the broker's requests act on (the instance's WebRTC manager and framebuffer).
type Media interface {
	Offer(ctx context.Context, req webrtc.OfferRequest) (webrtc.Answer, error)
	CloseSession(id, reason string) error
	SetController(viewerID string) *webrtc.Viewer
	Controller() *webrtc.Viewer
	Screenshot() (png []byte, captured time.Time, err error)
}

// Restarter acts on the supervised QEMU (*qemu.Supervisor implements it).
type Restarter interface {
	Reset(ctx context.Context) error
	Restart(ctx context.Context) error
}

// Config configures a [Client].
type Config struct {
	// Broker is the broker's gRPC address (host:port). Required.
	Broker string
	// Hello is sent first on every stream.
	Hello *locov1.AgentHello
	// Health returns the latest report (nil: none yet); sent every HealthInterval.
	Health func() *locov1.HealthReport
	// HealthInterval (default 1 s).
	HealthInterval time.Duration
	// Media serves offers, closes, control and screenshots. Required.
	Media Media
	// Restarter handles restart requests; nil answers them with FAILED_PRECONDITION.
	Restarter Restarter
	// MinBackoff and MaxBackoff bound the wait between reconnections (defaults 250 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// DialOptions replace the default (insecure transport credentials).
	DialOptions []grpc.DialOption
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Client keeps the Attach stream open.
type Client struct {
	cfg  Config
	log  *slog.Logger
	conn *grpc.ClientConn

	mu      sync.Mutex
	out     chan *locov1.AgentMessage // the current stream's outbox; nil while disconnected
	streams int
}

// New prepares a client; Run connects.
func New(cfg Config) (*Client, error) {
	if cfg.Broker == "" {
		return nil, ErrNoBroker
	}
	if cfg.Media == nil {
		return nil, fmt.Errorf("attach: Config.Media is required")
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(cfg.MinBackoff, 10*time.Second)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Hello == nil {
		cfg.Hello = &locov1.AgentHello{}
	}
	opts := cfg.DialOptions
	if opts == nil {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(cfg.Broker, opts...)
	if err != nil {
		return nil, fmt.Errorf("attach: broker %q: %w", cfg.Broker, err)
	}
	return &Client{cfg: cfg, log: cfg.Logger.With("broker", cfg.Broker), conn: conn}, nil
}

// Streams returns how many streams were opened so far.
func (c *Client) Streams() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams
}

// Run keeps a stream open until ctx is done, reconnecting with back-off.
func (c *Client) Run(ctx context.Context) error {
	defer c.conn.Close()
	backoff := c.cfg.MinBackoff
	for {
		start := time.Now()
		err := c.stream(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(start) > 10*time.Second {
			backoff = c.cfg.MinBackoff
		}
		c.log.Warn("attach stream ended, reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, c.cfg.MaxBackoff)
	}
}

// send queues a message on the current stream; it is dropped while disconnected.
func (c *Client) send(m *locov1.AgentMessage) {
	c.mu.Lock()
	out := c.out
	c.mu.Unlock()
	if out == nil {
		return
	}
	select {
	case out <- m:
	default:
		c.log.Warn("attach outbox full, dropping a message")
	}
}

// SessionEnded tells the broker that a session ended on the agent's side.
func (c *Client) SessionEnded(id, reason string) {
	c.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_SessionEnded{
		SessionEnded: &locov1.SessionEnded{SessionId: id, Reason: reason}}})
}

// ControlChanged tells the broker who holds control now.
func (c *Client) ControlChanged(v *webrtc.Viewer) { c.send(controlMessage(v, "")) }

func controlMessage(v *webrtc.Viewer, requestID string) *locov1.AgentMessage {
	st := &locov1.ControlState{RequestId: requestID}
	if v != nil {
		st.Controller = &locov1.Viewer{Id: v.ID, Name: v.Name}
	}
	return &locov1.AgentMessage{Kind: &locov1.AgentMessage_Control{Control: st}}
}

func (c *Client) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := locov1.NewBrokerClient(c.conn).Attach(ctx)
	if err != nil {
		return fmt.Errorf("opening Attach: %w", err)
	}
	if err := st.Send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Hello{Hello: c.cfg.Hello}}); err != nil {
		return fmt.Errorf("sending hello: %w", err)
	}
	out := make(chan *locov1.AgentMessage, 64)
	c.mu.Lock()
	c.out = out
	c.streams++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.out == out {
			c.out = nil
		}
		c.mu.Unlock()
	}()
	c.log.Info("attached to the broker", "instance", c.cfg.Hello.GetInstanceId())
	c.send(controlMessage(c.cfg.Media.Controller(), ""))

	sendErr := make(chan error, 1)
	go func() { sendErr <- c.sendLoop(ctx, st, out) }()
	recvErr := make(chan error, 1)
	go func() {
		for {
			msg, err := st.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			c.handle(ctx, msg)
		}
	}()
	select {
	case err := <-sendErr:
		return err
	case err := <-recvErr:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendLoop is the stream's only sender: queued messages and a health report every interval.
func (c *Client) sendLoop(ctx context.Context, st grpc.BidiStreamingClient[locov1.AgentMessage, locov1.BrokerMessage],
	out <-chan *locov1.AgentMessage) error {
	t := time.NewTicker(c.cfg.HealthInterval)
	defer t.Stop()
	sendHealth := func() error {
		if c.cfg.Health == nil {
			return nil
		}
		if rep := c.cfg.Health(); rep != nil {
			return st.Send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Health{Health: rep}})
		}
		return nil
	}
	if err := sendHealth(); err != nil {
		return fmt.Errorf("sending health: %w", err)
	}
	for {
		select {
		case <-ctx.Done():
			_ = st.CloseSend()
			return ctx.Err()
		case m := <-out:
			if err := st.Send(m); err != nil {
				return fmt.Errorf("sending: %w", err)
			}
		case <-t.C:
			if err := sendHealth(); err != nil {
				return fmt.Errorf("sending health: %w", err)
			}
		}
	}
}

// handle serves one broker message; slow requests run in their own goroutine.
func (c *Client) handle(ctx context.Context, msg *locov1.BrokerMessage) {
	switch k := msg.GetKind().(type) {
	case *locov1.BrokerMessage_Offer:
		go c.offer(ctx, k.Offer)
	case *locov1.BrokerMessage_Ice:
		c.send(errorMessage(k.Ice.GetSessionId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION,
			"trickle ICE is not supported: answers carry every candidate"))
	case *locov1.BrokerMessage_Close:
		if err := c.cfg.Media.CloseSession(k.Close.GetSessionId(), "closed by broker: "+k.Close.GetReason()); err != nil {
			c.send(errorMessage(k.Close.GetSessionId(), errorCode(err), err.Error()))
		}
	case *locov1.BrokerMessage_Control:
		v := c.cfg.Media.SetController(k.Control.GetViewerId())
		c.send(controlMessage(v, k.Control.GetRequestId()))
	case *locov1.BrokerMessage_Restart:
		go c.restart(ctx, k.Restart)
	case *locov1.BrokerMessage_Screenshot:
		go c.screenshot(k.Screenshot)
	default:
		c.log.Warn("unknown message from the broker", "type", fmt.Sprintf("%T", k))
	}
}

func (c *Client) offer(ctx context.Context, o *locov1.SignalOffer) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ans, err := c.cfg.Media.Offer(ctx, webrtc.OfferRequest{
		SessionID:   o.GetSessionId(),
		SDP:         o.GetSdp(),
		Viewer:      webrtc.Viewer{ID: o.GetViewer().GetId(), Name: o.GetViewer().GetName()},
		WantControl: o.GetRole() == locov1.Role_ROLE_CONTROLLER,
		MaxWidth:    int(o.GetMaxWidth()),
	})
	if err != nil {
		c.log.Info("offer refused", "session", o.GetSessionId(), "err", err)
		c.send(errorMessage(o.GetSessionId(), errorCode(err), err.Error()))
		return
	}
	role := locov1.Role_ROLE_SPECTATOR
	if ans.Controller {
		role = locov1.Role_ROLE_CONTROLLER
	}
	c.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Answer{Answer: &locov1.SignalAnswer{
		SessionId: o.GetSessionId(), Sdp: ans.SDP, Role: role}}})
}

func (c *Client) restart(ctx context.Context, r *locov1.RestartRequest) {
	if c.cfg.Restarter == nil {
		c.send(errorMessage(r.GetRequestId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION,
			ErrNoSupervisor.Error()))
		return
	}
	c.log.Info("restart requested", "kind", r.GetKind().String(), "reason", r.GetReason())
	var err error
	switch r.GetKind() {
	case locov1.RestartKind_RESTART_KIND_RESET_GUEST:
		err = c.cfg.Restarter.Reset(ctx)
	case locov1.RestartKind_RESTART_KIND_RESTART_QEMU:
		err = c.cfg.Restarter.Restart(ctx)
	default:
		c.send(errorMessage(r.GetRequestId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT,
			"restart kind "+r.GetKind().String()))
		return
	}
	if err != nil {
		c.send(errorMessage(r.GetRequestId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_UNAVAILABLE, err.Error()))
		return
	}
	c.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_RestartDone{
		RestartDone: &locov1.RestartDone{RequestId: r.GetRequestId()}}})
}

func (c *Client) screenshot(s *locov1.CaptureScreenshot) {
	png, at, err := c.cfg.Media.Screenshot()
	if err != nil {
		c.send(errorMessage(s.GetRequestId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_UNAVAILABLE, err.Error()))
		return
	}
	c.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Screenshot{Screenshot: &locov1.ScreenshotResult{
		RequestId: s.GetRequestId(), Png: png, CapturedAt: timestamppb.New(at)}}})
}

func errorMessage(ref string, code locov1.AgentErrorCode, msg string) *locov1.AgentMessage {
	return &locov1.AgentMessage{Kind: &locov1.AgentMessage_Error{Error: &locov1.AgentError{
		Ref: ref, Code: code, Message: msg}}}
}

// errorCode classifies an error for the broker.
func errorCode(err error) locov1.AgentErrorCode {
	switch {
	case errors.Is(err, webrtc.ErrBadOffer), errors.Is(err, webrtc.ErrDuplicateSession):
		return locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT
	case errors.Is(err, webrtc.ErrUnknownSession):
		return locov1.AgentErrorCode_AGENT_ERROR_CODE_NOT_FOUND
	case errors.Is(err, webrtc.ErrTooManyViewers), errors.Is(err, webrtc.ErrClosed), errors.Is(err, webrtc.ErrGather):
		return locov1.AgentErrorCode_AGENT_ERROR_CODE_UNAVAILABLE
	}
	return locov1.AgentErrorCode_AGENT_ERROR_CODE_UNSPECIFIED
}
