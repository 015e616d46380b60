// Package agentlink serves loco.v1.Broker.Attach: every agent keeps one stream open, and the broker talks to the
// agent only through it. The Hub keeps the newest stream per instance (a second Attach replaces the first, which is
// closed with Aborted), feeds hello, health and control reports to the registry, and correlates replies with the
// requests that the broker sent down the stream (offers by session id, everything else by request id).
package agentlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Registry is what the Hub reports agents to (implemented by registry.Registry).
type Registry interface {
	Attach(gen uint64, hello *locov1.AgentHello) (trusted bool)
	Detach(id string, gen uint64)
	ReportHealth(id string, gen uint64, h *locov1.HealthReport)
	SetController(id string, gen uint64, v *locov1.Viewer)
}

// SessionObserver learns about sessions that ended on the agent's side (implemented by signaling).
type SessionObserver interface {
	SessionEnded(instanceID, sessionID, reason string)
}

// Hub implements locov1.BrokerServer.
type Hub struct {
	locov1.UnimplementedBrokerServer

	reg      Registry
	log      *slog.Logger
	sendBuf  int
	observer SessionObserver

	mu      sync.Mutex
	gen     uint64
	conns   map[string]*Conn
	closing chan struct{}
	once    sync.Once
}

// NewHub creates a Hub reporting to reg.
func NewHub(reg Registry, log *slog.Logger) *Hub {
	return &Hub{reg: reg, log: log, sendBuf: 16, conns: map[string]*Conn{}, closing: make(chan struct{})}
}

// Close ends every Attach stream with Unavailable (the broker is stopping; agents re-attach elsewhere or later).
func (h *Hub) Close() { h.once.Do(func() { close(h.closing) }) }

// SetSessionObserver installs the observer of agent-side session ends. Call before serving.
func (h *Hub) SetSessionObserver(o SessionObserver) { h.observer = o }

// Conn returns the current stream of an instance's agent.
func (h *Hub) Conn(id string) (*Conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[id]
	return c, ok
}

// Attached returns how many agent streams are open.
func (h *Hub) Attached() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Attach serves one agent stream. gRPC's goroutine for the stream only waits here for the end, so its stack stays
// small; another goroutine reads the agent's messages and does the work they bring (its stack grows to what that
// takes), and messages to the agent are written by a goroutine that runs only while some are queued (Conn.Send).
// At a thousand agents that is a few MB of stacks fewer than serving and writing on the stream's goroutine.
func (h *Hub) Attach(stream locov1.Broker_AttachServer) error {
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	ended := make(chan error, 1)
	go func() { ended <- h.serve(ctx, cancel, stream) }()
	select {
	case err := <-ended:
		return err
	case <-h.closing:
		cancel(errClosing)
		return status.Error(codes.Unavailable, "broker shutting down")
	case <-ctx.Done():
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, errReplaced):
			return status.Error(codes.Aborted, "replaced by a newer Attach for the same instance")
		case errors.Is(cause, errSendFailed):
			return status.Error(codes.Unavailable, cause.Error())
		}
		return status.FromContextError(ctx.Err()).Err()
	}
}

// serve reads the hello, registers the agent and reads its messages until the stream ends; then it unregisters it.
func (h *Hub) serve(ctx context.Context, cancel context.CancelCauseFunc, stream locov1.Broker_AttachServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	hello := first.GetHello()
	if hello == nil {
		return status.Error(codes.InvalidArgument, "the first message of an Attach stream must be a hello")
	}
	if hello.GetInstanceId() == "" {
		return status.Error(codes.InvalidArgument, "hello without instance_id")
	}
	id := hello.GetInstanceId()

	h.mu.Lock()
	h.gen++
	c := newConn(id, h.gen, hello, h.sendBuf, stream, ctx, cancel)
	old := h.conns[id]
	h.conns[id] = c
	h.mu.Unlock()
	if old != nil {
		old.cancel(errReplaced)
	}
	trusted := h.reg.Attach(c.gen, hello)
	log := h.log.With("instance", id, "gen", c.gen)
	log.Info("agent attached", "pod", hello.GetPod(), "version", hello.GetAgentVersion(), "trusted", trusted,
		"replaced", old != nil)

	defer func() {
		h.mu.Lock()
		if h.conns[id] == c {
			delete(h.conns, id)
		}
		h.mu.Unlock()
		h.reg.Detach(id, c.gen)
		c.fail(ErrDetached)
	}()

	err = h.receive(stream, c)
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errReplaced):
		log.Info("agent stream replaced by a newer attach")
		return err
	case errors.Is(cause, errSendFailed):
		log.Info("agent stream send failed", "err", cause)
		return err
	case errors.Is(err, io.EOF):
		log.Info("agent detached")
		return nil
	case status.Code(err) == codes.Canceled:
		log.Info("agent detached", "err", err)
		return nil
	}
	log.Warn("agent stream failed", "err", err)
	return err
}

// receive reads agent messages until the stream ends.
func (h *Hub) receive(stream locov1.Broker_AttachServer, c *Conn) error {
	for {
		m, err := stream.Recv()
		if err != nil {
			return err
		}
		switch k := m.GetKind().(type) {
		case *locov1.AgentMessage_Health:
			h.reg.ReportHealth(c.id, c.gen, k.Health)
		case *locov1.AgentMessage_Answer:
			c.deliver(k.Answer.GetSessionId(), m)
		case *locov1.AgentMessage_Error:
			c.deliver(k.Error.GetRef(), m)
		case *locov1.AgentMessage_SessionEnded:
			c.deliver(k.SessionEnded.GetSessionId(), m)
			if h.observer != nil {
				h.observer.SessionEnded(c.id, k.SessionEnded.GetSessionId(), k.SessionEnded.GetReason())
			}
		case *locov1.AgentMessage_Control:
			h.reg.SetController(c.id, c.gen, k.Control.GetController())
			if ref := k.Control.GetRequestId(); ref != "" {
				c.deliver(ref, m)
			}
		case *locov1.AgentMessage_Screenshot:
			c.deliver(k.Screenshot.GetRequestId(), m)
		case *locov1.AgentMessage_RestartDone:
			c.deliver(k.RestartDone.GetRequestId(), m)
		case *locov1.AgentMessage_Hello:
			return status.Error(codes.InvalidArgument, "hello sent twice on one stream")
		default:
			return status.Error(codes.InvalidArgument, fmt.Sprintf("unknown agent message %T", k))
		}
	}
}
