// Package signaling relays WHEP sessions (draft-ietf-wish-whep) between viewers and agents: an SDP offer goes down
// the agent's Attach stream, the agent's answer comes back, and the session id names the session URL that the
// viewer later DELETEs (or PATCHes with trickle ICE). The broker never sees media. Session ids are random 128-bit
// values: knowing a session URL is what allows ending the session.
//
// Sessions are remembered only to route DELETE and PATCH. After a broker restart the table is empty; a DELETE for a
// session this process does not know is still forwarded to the agent, which is the authority on its sessions.
package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Instances tells whether discovery knows an instance (implemented by the registry).
type Instances interface {
	Get(id string) (*locov1.Instance, bool)
}

// Agents finds an instance's Attach stream (implemented by agentlink.Hub).
type Agents interface {
	Conn(id string) (*agentlink.Conn, bool)
}

// Config tunes signaling.
type Config struct {
	// AnswerTimeout bounds the wait for an agent's SDP answer. Default 10s.
	AnswerTimeout time.Duration
	// CloseTimeout bounds the wait for an agent to confirm a DELETE of a session this broker does not know.
	// Default 2s.
	CloseTimeout time.Duration
	// MaxOfferBytes is the largest SDP offer accepted. Default 64 KiB.
	MaxOfferBytes int
}

func (c *Config) defaults() {
	if c.AnswerTimeout <= 0 {
		c.AnswerTimeout = 10 * time.Second
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 2 * time.Second
	}
	if c.MaxOfferBytes <= 0 {
		c.MaxOfferBytes = 64 << 10
	}
}

// Offer is a viewer's request to watch an instance.
type Offer struct {
	// SDP is the viewer's offer.
	SDP string
	// Viewer identifies the viewer (may be empty).
	Viewer *locov1.Viewer
	// Role is what the viewer asks to be.
	Role locov1.Role
	// MaxWidth is the largest useful video width, 0 for full size.
	MaxWidth uint32
}

// Answer is what the agent answered.
type Answer struct {
	// SessionID names the session URL.
	SessionID string
	// SDP is the agent's answer.
	SDP string
	// Role is the role the agent granted.
	Role locov1.Role
}

type session struct {
	instance string
	viewer   string
	created  time.Time
}

// Service relays WHEP sessions.
type Service struct {
	cfg       Config
	instances Instances
	agents    Agents
	log       *slog.Logger
	metrics   *Metrics

	mu       sync.Mutex
	sessions map[string]session
	// closed remembers recently ended sessions, so a repeated DELETE is a 404 at once and never mistakes the
	// agent's late SessionEnded for a confirmation.
	closed map[string]time.Time
}

// closedTTL is how long ended sessions are remembered.
const closedTTL = time.Minute

// New creates the service.
func New(cfg Config, instances Instances, agents Agents, log *slog.Logger, m *Metrics) *Service {
	cfg.defaults()
	return &Service{cfg: cfg, instances: instances, agents: agents, log: log, metrics: m,
		sessions: map[string]session{}, closed: map[string]time.Time{}}
}

// MaxOfferBytes is the configured limit on offer size.
func (s *Service) MaxOfferBytes() int { return s.cfg.MaxOfferBytes }

// ValidateOffer checks that body is an SDP session description with at least one media section.
func ValidateOffer(body string) error {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(body); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	if len(d.MediaDescriptions) == 0 {
		return fmt.Errorf("%w: no media sections", ErrBadOffer)
	}
	return nil
}

// Offer forwards an offer to the instance's agent and returns its answer.
func (s *Service) Offer(ctx context.Context, id string, o Offer) (Answer, error) {
	start := time.Now()
	a, err := s.offer(ctx, id, o)
	if s.metrics != nil {
		s.metrics.observe(err, time.Since(start))
	}
	return a, err
}

func (s *Service) offer(ctx context.Context, id string, o Offer) (Answer, error) {
	if _, ok := s.instances.Get(id); !ok {
		return Answer{}, fmt.Errorf("instance %q: %w", id, ErrUnknownInstance)
	}
	if len(o.SDP) > s.cfg.MaxOfferBytes {
		return Answer{}, fmt.Errorf("offer of %d bytes: %w", len(o.SDP), ErrOfferTooLarge)
	}
	if err := ValidateOffer(o.SDP); err != nil {
		return Answer{}, err
	}
	conn, ok := s.agents.Conn(id)
	if !ok {
		return Answer{}, fmt.Errorf("instance %q: %w", id, ErrNotAttached)
	}
	sid := agentlink.NewID()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AnswerTimeout)
	defer cancel()
	reply, err := conn.Request(ctx, sid, &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Offer{Offer: &locov1.SignalOffer{
		SessionId: sid, Sdp: o.SDP, Viewer: o.Viewer, Role: o.Role, MaxWidth: o.MaxWidth,
	}}})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			// The agent may still answer and set the session up: tell it to drop it.
			s.closeAsync(conn, sid, "no answer in time")
			return Answer{}, fmt.Errorf("instance %q after %s: %w", id, s.cfg.AnswerTimeout, ErrAnswerTimeout)
		}
		if errors.Is(err, agentlink.ErrDetached) {
			return Answer{}, fmt.Errorf("instance %q: %w: %w", id, ErrNotAttached, err)
		}
		return Answer{}, err
	}
	ans := reply.GetAnswer()
	if ans == nil || ans.GetSdp() == "" {
		s.closeAsync(conn, sid, "empty answer")
		return Answer{}, fmt.Errorf("instance %q: %w", id, ErrBadAnswer)
	}
	s.mu.Lock()
	s.sessions[sid] = session{instance: id, viewer: o.Viewer.GetId(), created: time.Now()}
	n := len(s.sessions)
	s.mu.Unlock()
	if s.metrics != nil {
		s.metrics.Sessions.Set(float64(n))
	}
	s.log.Debug("session answered", "instance", id, "session", sid, "viewer", o.Viewer.GetId(), "role", ans.GetRole())
	return Answer{SessionID: sid, SDP: ans.GetSdp(), Role: ans.GetRole()}, nil
}

func (s *Service) closeAsync(conn *agentlink.Conn, sid, reason string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.CloseTimeout)
		defer cancel()
		_ = conn.Send(ctx, closeMsg(sid, reason))
	}()
}

func closeMsg(sid, reason string) *locov1.BrokerMessage {
	return &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Close{Close: &locov1.CloseSession{SessionId: sid, Reason: reason}}}
}

// Close ends a session (WHEP DELETE). A session this broker created is forgotten at once and the agent told to
// close it. A session it does not know (created before a broker restart) is asked of the agent: it is closed if
// the agent confirms with SessionEnded, and ErrUnknownSession otherwise.
func (s *Service) Close(ctx context.Context, id, sid string) error {
	s.mu.Lock()
	sess, known := s.sessions[sid]
	if known && sess.instance == id {
		delete(s.sessions, sid)
		s.closed[sid] = time.Now()
	}
	_, ended := s.closed[sid]
	n := len(s.sessions)
	s.mu.Unlock()
	if !known && ended {
		return fmt.Errorf("session %q of instance %q: %w", sid, id, ErrUnknownSession)
	}
	if known && sess.instance != id {
		return fmt.Errorf("session %q of instance %q: %w", sid, id, ErrUnknownSession)
	}
	if s.metrics != nil {
		s.metrics.Sessions.Set(float64(n))
	}
	conn, attached := s.agents.Conn(id)
	if known {
		if attached {
			if err := conn.Send(ctx, closeMsg(sid, "closed by viewer")); err != nil {
				s.log.Info("close session: agent unreachable", "instance", id, "session", sid, "err", err)
			}
		}
		return nil
	}
	if _, ok := s.instances.Get(id); !ok || !attached || !validID(sid) {
		return fmt.Errorf("session %q of instance %q: %w", sid, id, ErrUnknownSession)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.CloseTimeout)
	defer cancel()
	reply, err := conn.Request(ctx, sid, closeMsg(sid, "closed by viewer"))
	if err != nil || reply.GetSessionEnded() == nil {
		return fmt.Errorf("session %q of instance %q: %w", sid, id, ErrUnknownSession)
	}
	return nil
}

// Trickle forwards a trickle-ICE fragment (WHEP PATCH) for a session this broker created.
func (s *Service) Trickle(ctx context.Context, id, sid, frag string) error {
	s.mu.Lock()
	sess, known := s.sessions[sid]
	s.mu.Unlock()
	if !known || sess.instance != id {
		return fmt.Errorf("session %q of instance %q: %w", sid, id, ErrUnknownSession)
	}
	conn, ok := s.agents.Conn(id)
	if !ok {
		return fmt.Errorf("instance %q: %w", id, ErrNotAttached)
	}
	return conn.Send(ctx, &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Ice{Ice: &locov1.IceFragment{
		SessionId: sid, Sdpfrag: frag,
	}}})
}

// SessionEnded implements agentlink.SessionObserver.
func (s *Service) SessionEnded(instanceID, sid, reason string) {
	s.mu.Lock()
	sess, ok := s.sessions[sid]
	if ok && sess.instance == instanceID {
		delete(s.sessions, sid)
		s.closed[sid] = time.Now()
	}
	n := len(s.sessions)
	s.mu.Unlock()
	if ok {
		s.log.Debug("session ended by agent", "instance", instanceID, "session", sid, "reason", reason)
	}
	if s.metrics != nil {
		s.metrics.Sessions.Set(float64(n))
	}
}

// Sessions returns how many sessions this broker remembers.
func (s *Service) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Run forgets, every interval, the sessions of instances that discovery no longer knows, until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.prune()
		}
	}
}

func (s *Service) prune() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sid, sess := range s.sessions {
		if _, ok := s.instances.Get(sess.instance); !ok {
			delete(s.sessions, sid)
		}
	}
	for sid, at := range s.closed {
		if time.Since(at) > closedTTL {
			delete(s.closed, sid)
		}
	}
	if s.metrics != nil {
		s.metrics.Sessions.Set(float64(len(s.sessions)))
	}
}

func validID(sid string) bool {
	if len(sid) != 32 {
		return false
	}
	for _, c := range sid {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
