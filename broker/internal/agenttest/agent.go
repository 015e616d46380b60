// Package agenttest is a fake loco agent for the broker's tests and benchmarks: it attaches to a broker over real
// gRPC, reports health, re-attaches with back-off when the stream breaks, and answers WHEP offers with a real Pion
// PeerConnection that sends a video track (so a viewer's ICE, DTLS and RTP all really happen). It also answers
// control, screenshot and restart requests the way the agent contract (proto/loco/v1/broker.proto) describes.
// It stands beside the real agent (agent/cmd/loco-agent), which the broker's end-to-end test also runs.
package agenttest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Config describes a fake agent.
type Config struct {
	// ID is the instance id in the hello.
	ID string
	// Broker is the broker's gRPC address.
	Broker string
	// HealthEvery is the reporting interval. Default 1s.
	HealthEvery time.Duration
	// MinBackoff and MaxBackoff bound the re-attach back-off. Defaults 50ms and 1s.
	MinBackoff, MaxBackoff time.Duration
	// NoMedia answers offers with a canned error instead of a PeerConnection (for scale tests).
	NoMedia bool
	// Conn, when set, is used instead of dialing Broker (many agents may share one connection in benchmarks).
	Conn *grpc.ClientConn
	// Log receives the fake's own log; default discards.
	Log *slog.Logger
}

// Agent is a running fake agent.
type Agent struct {
	cfg Config

	verdict     atomic.Int32
	silent      atomic.Bool
	ignoreOffer atomic.Bool
	restartErr  atomic.Bool

	// Attaches counts successful Attach streams (hello sent).
	Attaches atomic.Int64
	// Restarts counts RestartRequests carried out.
	Restarts atomic.Int64
	// Offers counts offers received.
	Offers atomic.Int64

	mu         sync.Mutex
	sessions   map[string]*peer
	controller *locov1.Viewer
	viewers    map[string]*locov1.Viewer
	stream     locov1.Broker_AttachClient
	sendMu     sync.Mutex
	attached   chan struct{}
}

// New creates a fake agent; Run starts it.
func New(cfg Config) *Agent {
	if cfg.HealthEvery <= 0 {
		cfg.HealthEvery = time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, sessions: map[string]*peer{}, viewers: map[string]*locov1.Viewer{}, attached: make(chan struct{})}
	a.verdict.Store(int32(locov1.Verdict_VERDICT_HEALTHY))
	return a
}

// SetVerdict changes the verdict of the next health reports.
func (a *Agent) SetVerdict(v locov1.Verdict) { a.verdict.Store(int32(v)) }

// SetSilent stops (or resumes) health reports while staying attached.
func (a *Agent) SetSilent(s bool) { a.silent.Store(s) }

// SetIgnoreOffers makes the agent never answer offers (the broker must time out).
func (a *Agent) SetIgnoreOffers(v bool) { a.ignoreOffer.Store(v) }

// SetRestartUnsupported makes restart requests fail with FAILED_PRECONDITION.
func (a *Agent) SetRestartUnsupported(v bool) { a.restartErr.Store(v) }

// Attached is closed after the first successful attach.
func (a *Agent) Attached() <-chan struct{} { return a.attached }

// Sessions returns how many viewer sessions are open.
func (a *Agent) Sessions() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sessions)
}

// Run attaches and re-attaches until ctx is done.
func (a *Agent) Run(ctx context.Context) error {
	cc := a.cfg.Conn
	if cc == nil {
		var err error
		cc, err = grpc.NewClient(a.cfg.Broker, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return fmt.Errorf("dial broker %s: %w", a.cfg.Broker, err)
		}
		defer cc.Close()
	}
	client := locov1.NewBrokerClient(cc)
	backoff := a.cfg.MinBackoff
	var once sync.Once
	defer a.closeAll()
	for ctx.Err() == nil {
		attached, err := a.session(ctx, client, func() { once.Do(func() { close(a.attached) }) })
		if ctx.Err() != nil {
			return nil
		}
		if attached {
			backoff = a.cfg.MinBackoff
		}
		a.cfg.Log.Debug("attach ended", "instance", a.cfg.ID, "err", err, "retry_in", backoff)
		sleep := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, a.cfg.MaxBackoff)
	}
	return nil
}

// session runs one Attach stream.
func (a *Agent) session(ctx context.Context, client locov1.BrokerClient, onAttach func()) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Attach(ctx, grpc.WaitForReady(false))
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	a.stream = stream
	a.mu.Unlock()
	if err := a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Hello{Hello: &locov1.AgentHello{
		InstanceId: a.cfg.ID, AgentVersion: "agenttest", VideoCodecs: []string{"video/VP8"},
		InputProtocolVersion: 1, Profile: "external",
	}}}); err != nil {
		return false, err
	}
	a.Attaches.Add(1)
	onAttach()
	a.mu.Lock()
	ctl := a.controller
	a.mu.Unlock()
	if ctl != nil {
		_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Control{Control: &locov1.ControlState{Controller: ctl}}})
	}
	go a.reportHealth(ctx)
	for {
		m, err := stream.Recv()
		if err != nil {
			return true, err
		}
		a.handle(m)
	}
}

func (a *Agent) send(m *locov1.AgentMessage) error {
	a.mu.Lock()
	s := a.stream
	a.mu.Unlock()
	if s == nil {
		return fmt.Errorf("not attached")
	}
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	return s.Send(m)
}

func (a *Agent) reportHealth(ctx context.Context) {
	t := time.NewTicker(a.cfg.HealthEvery)
	defer t.Stop()
	for {
		if !a.silent.Load() {
			v := locov1.Verdict(a.verdict.Load())
			h := &locov1.HealthReport{
				MeasuredAt: timestamppb.Now(), Verdict: v, VncConnected: true, VncFps: 30, EncodedFps: 30,
				Screen: locov1.ScreenVerdict_SCREEN_VERDICT_OK, Viewers: uint32(a.Sessions()),
				Qemu: locov1.QemuState_QEMU_STATE_UNSPECIFIED, AudioRmsDbfs: -100,
			}
			if v != locov1.Verdict_VERDICT_HEALTHY {
				h.Reasons = []string{"fake agent told to be " + v.String()}
			}
			if a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Health{Health: h}}) != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func agentErr(ref string, code locov1.AgentErrorCode, msg string) *locov1.AgentMessage {
	return &locov1.AgentMessage{Kind: &locov1.AgentMessage_Error{Error: &locov1.AgentError{Ref: ref, Code: code, Message: msg}}}
}

func (a *Agent) handle(m *locov1.BrokerMessage) {
	switch k := m.GetKind().(type) {
	case *locov1.BrokerMessage_Offer:
		a.Offers.Add(1)
		if a.ignoreOffer.Load() {
			return
		}
		go a.answer(k.Offer)
	case *locov1.BrokerMessage_Close:
		sid := k.Close.GetSessionId()
		a.mu.Lock()
		p := a.sessions[sid]
		delete(a.sessions, sid)
		a.mu.Unlock()
		if p == nil {
			_ = a.send(agentErr(sid, locov1.AgentErrorCode_AGENT_ERROR_CODE_NOT_FOUND, "no such session"))
			return
		}
		p.close()
		_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_SessionEnded{SessionEnded: &locov1.SessionEnded{
			SessionId: sid, Reason: "closed by broker"}}})
	case *locov1.BrokerMessage_Ice:
		// Loopback host candidates are complete in the offer; trickled ones are accepted and ignored.
	case *locov1.BrokerMessage_Control:
		a.mu.Lock()
		var v *locov1.Viewer
		if id := k.Control.GetViewerId(); id != "" {
			v = a.viewers[id]
			if v == nil {
				a.mu.Unlock()
				_ = a.send(agentErr(k.Control.GetRequestId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_NOT_FOUND,
					"viewer "+id+" has no session"))
				return
			}
		}
		a.controller = v
		a.mu.Unlock()
		_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Control{Control: &locov1.ControlState{
			Controller: v, RequestId: k.Control.GetRequestId()}}})
	case *locov1.BrokerMessage_Screenshot:
		_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Screenshot{Screenshot: &locov1.ScreenshotResult{
			RequestId: k.Screenshot.GetRequestId(), Png: Picture(a.cfg.ID), CapturedAt: timestamppb.Now()}}})
	case *locov1.BrokerMessage_Restart:
		if a.restartErr.Load() {
			_ = a.send(agentErr(k.Restart.GetRequestId(), locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION,
				"no supervised QEMU"))
			return
		}
		a.Restarts.Add(1)
		_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_RestartDone{RestartDone: &locov1.RestartDone{
			RequestId: k.Restart.GetRequestId()}}})
	}
}

// Picture is the PNG the fake agent returns as its screenshot: 64×48, its color derived from id.
func Picture(id string) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	var h uint8
	for _, c := range []byte(id) {
		h = h*31 + c
	}
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{h, uint8(x * 4), uint8(y * 5), 255})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func (a *Agent) closeAll() {
	a.mu.Lock()
	ps := a.sessions
	a.sessions = map[string]*peer{}
	a.mu.Unlock()
	for _, p := range ps {
		p.close()
	}
}
