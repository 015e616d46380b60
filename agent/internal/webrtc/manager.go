package webrtc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"
)

// InputHandler injects one session's input (agent/internal/input's Handler).
type InputHandler interface {
	// Handle decodes and injects one DataChannel message; allowed says whether the session holds control.
	Handle(msg []byte, allowed bool) error
	// ReleaseAll releases every pressed key and button.
	ReleaseAll() error
}

// Deps are what a [Manager] drives and asks. Every field is optional.
type Deps struct {
	// KeyFrame asks the encoder for a keyframe soon (force-key-unit plus a frame to encode).
	KeyFrame func()
	// SetBitrate sets the encoder's target bitrate.
	SetBitrate func(bps int)
	// Input receives DataChannel input.
	Input InputHandler
	// Screen reports the current screen for status messages.
	Screen func() Screen
	// SessionEnded is called when a session ends on the agent's side (peer closed, ICE failed, timed out).
	SessionEnded func(id, reason string)
	// ControlChanged is called after every change of the controller (nil: nobody).
	ControlChanged func(controller *Viewer)
	// SmallLayer starts (true) or stops (false) the half-size encoder, whose frames go to
	// [Manager.WriteSmallVideo]: started when the first session asking for a small picture arrives, stopped when
	// the last one leaves. Without it every session gets the full size.
	SmallLayer func(on bool)
	// SmallKeyFrame and SmallBitrate are KeyFrame and SetBitrate for the half-size encoder.
	SmallKeyFrame func()
	SmallBitrate  func(bps int)
}

// OfferRequest is a viewer's offer.
type OfferRequest struct {
	// SessionID names the session (chosen by the broker or the WHEP handler).
	SessionID string
	// SDP is the offer.
	SDP string
	// Viewer is who asks.
	Viewer Viewer
	// WantControl asks for control; granted when nobody holds it or this viewer already does.
	WantControl bool
	// MaxWidth is the largest useful video width (0: full size). A session with MaxWidth at most 3/5 of the
	// screen's width gets the half-size layer (see layerFor).
	MaxWidth int
}

// Answer is the agent's answer to an offer.
type Answer struct {
	SDP string
	// Controller is true when the viewer holds control.
	Controller bool
}

// Stats are the manager's figures.
type Stats struct {
	// Sessions is the number of sessions; Viewers of those, the connected ones.
	Sessions, Viewers int
	// RTTms is the mean round-trip time over sessions that reported one (0 when none did).
	RTTms float64
	// Loss is the worst fraction lost reported by a receiver (0..1).
	Loss float64
	// SentBps is what was sent (video and audio, all sessions) per second since the previous Stats call.
	SentBps uint64
	// TargetBps is the bitrate last given to the encoder.
	TargetBps int
	// SmallSessions is the number of sessions on the half-size layer; SmallTargetBps, its encoder's bitrate
	// (0 while the layer is stopped).
	SmallSessions, SmallTargetBps int
	// Feedback sums the loss-recovery counters of every session since the manager started (ended sessions
	// included, so the counters only grow).
	Feedback Feedback
}

// Layer indexes of [Manager.layers].
const (
	fullLayer = iota
	smallLayer
)

// layer is one encoded picture size: its track, its encoder's controls and its keyframe-request state.
type layer struct {
	name       string
	track      *Track
	keyFrame   func()
	setBitrate func(bps int)

	keyMu      sync.Mutex
	keyPending bool
	lastKeyReq time.Time

	target int // guarded by Manager.mu
}

// Manager owns the shared tracks, the ICE ports and every viewer session of one instance.
type Manager struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	se      pion.SettingEngine
	udpConn *net.UDPConn
	tcpLn   *net.TCPListener
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux

	// Video and Audio are the shared tracks; write the encoders' output to them. Small is the half-size video
	// layer's track (see [Deps.SmallLayer]).
	Video *Track
	Small *Track
	Audio *Track

	layers [2]*layer

	mu       sync.Mutex
	sessions map[string]*Session
	// pastFeedback holds the loss-recovery counters of sessions that have ended (guarded by mu).
	pastFeedback Feedback
	controller   *Viewer
	closed       bool
	lastScreen   Screen
	lastSent     uint64
	lastSentAt   time.Time

	smallMu sync.Mutex // serializes starting and stopping the small layer
	smallOn bool
	// fullIdle is true while the small layer runs and no session uses the full one.
	fullIdle atomic.Bool
}

// New opens the ICE ports and builds the shared tracks.
func New(cfg Config, deps Deps) (*Manager, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, deps: deps, log: cfg.Logger, sessions: map[string]*Session{}, lastSentAt: time.Now()}
	m.layers[fullLayer] = &layer{name: "full", keyFrame: deps.KeyFrame, setBitrate: deps.SetBitrate}
	m.layers[smallLayer] = &layer{name: "half", keyFrame: deps.SmallKeyFrame, setBitrate: deps.SmallBitrate}
	for _, l := range m.layers {
		// Both tracks share the track id and stream: a viewer sees one video track whichever layer it gets.
		t, err := NewTrack(cfg.VideoMime, "video", "loco-video", l.requestKeyFrame)
		if err != nil {
			return nil, fmt.Errorf("%w: video codec %q", ErrConfig, cfg.VideoMime)
		}
		t.noPlayoutDelay = cfg.NoPlayoutDelay
		l.track = t
	}
	m.Video, m.Small = m.layers[fullLayer].track, m.layers[smallLayer].track
	var err error
	if cfg.Audio {
		if m.Audio, err = NewTrack(pion.MimeTypeOpus, "audio", "loco-audio", nil); err != nil {
			return nil, err
		}
	}
	ip := net.ParseIP(cfg.ListenIP)
	if cfg.ListenIP != "" && ip == nil {
		return nil, fmt.Errorf("%w: listen IP %q", ErrConfig, cfg.ListenIP)
	}
	m.udpConn, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: cfg.UDPPort})
	if err != nil {
		return nil, fmt.Errorf("ICE UDP port %d: %w", cfg.UDPPort, err)
	}
	m.udpMux = pion.NewICEUDPMux(nil, m.udpConn)
	types := []pion.NetworkType{pion.NetworkTypeUDP4, pion.NetworkTypeUDP6}
	if cfg.TCPPort >= 0 {
		m.tcpLn, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: cfg.TCPPort})
		if err != nil {
			_ = m.udpMux.Close()
			return nil, fmt.Errorf("ICE TCP port %d: %w", cfg.TCPPort, err)
		}
		m.tcpMux = pion.NewICETCPMux(nil, m.tcpLn, 16)
		m.se.SetICETCPMux(m.tcpMux)
		types = append(types, pion.NetworkTypeTCP4, pion.NetworkTypeTCP6)
	}
	m.se.SetICEUDPMux(m.udpMux)
	m.se.SetNetworkTypes(types)
	if len(cfg.PublicIPs) > 0 {
		if err := m.se.SetICEAddressRewriteRules(pion.ICEAddressRewriteRule{External: cfg.PublicIPs,
			AsCandidateType: pion.ICECandidateTypeHost, Mode: pion.ICEAddressRewriteReplace}); err != nil {
			m.Close()
			return nil, fmt.Errorf("%w: public IPs %v: %w", ErrConfig, cfg.PublicIPs, err)
		}
	}
	m.se.SetIncludeLoopbackCandidate(cfg.AllowLoopback)
	m.se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	m.se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	return m, nil
}

// UDPPort returns the ICE UDP mux's port.
func (m *Manager) UDPPort() int { return m.udpConn.LocalAddr().(*net.UDPAddr).Port }

// TCPPort returns the ICE-TCP mux's port, 0 when disabled.
func (m *Manager) TCPPort() int {
	if m.tcpLn == nil {
		return 0
	}
	return m.tcpLn.Addr().(*net.TCPAddr).Port
}

// WriteVideo sends one encoded video frame to every full-size session.
func (m *Manager) WriteVideo(data []byte, pts time.Duration, keyframe bool) {
	m.layers[fullLayer].write(data, pts, keyframe)
}

// WriteSmallVideo sends one frame of the half-size encoder to every session on the small layer.
func (m *Manager) WriteSmallVideo(data []byte, pts time.Duration, keyframe bool) {
	m.layers[smallLayer].write(data, pts, keyframe)
}

func (l *layer) write(data []byte, pts time.Duration, keyframe bool) {
	l.track.WriteFrame(data, pts, keyframe)
	if keyframe {
		// After the write: a binding added later asks again (see Track.Bind).
		l.keyMu.Lock()
		l.keyPending = false
		l.keyMu.Unlock()
	}
}

// WriteAudio sends one Opus packet to every session (a no-op without audio).
func (m *Manager) WriteAudio(data []byte, pts time.Duration) {
	if m.Audio != nil {
		m.Audio.WriteFrame(data, pts, true)
	}
}

// RequestKeyFrame asks the full-size encoder for a keyframe. Requests made while one is pending (asked for less
// than 300 ms ago and no keyframe written since) are coalesced into it.
func (m *Manager) RequestKeyFrame() { m.layers[fullLayer].requestKeyFrame() }

func (l *layer) requestKeyFrame() {
	l.keyMu.Lock()
	now := time.Now()
	if l.keyPending && now.Sub(l.lastKeyReq) < 300*time.Millisecond {
		l.keyMu.Unlock()
		return
	}
	l.keyPending, l.lastKeyReq = true, now
	l.keyMu.Unlock()
	if l.keyFrame != nil {
		l.keyFrame()
	}
}

// retryKeyFrame asks again when a request was not served within 300 ms or a binding still waits for a keyframe.
func (l *layer) retryKeyFrame() bool {
	l.keyMu.Lock()
	retry := (l.keyPending || l.track.Waiting()) && time.Since(l.lastKeyReq) >= 300*time.Millisecond
	if retry {
		l.keyPending = false
	}
	l.keyMu.Unlock()
	if retry {
		l.requestKeyFrame()
	}
	return retry
}

// layerFor picks the layer of a session asking for at most maxWidth pixels. The half-size layer serves tiles up to
// 3/5 of the screen's width: a 480 px tile of an 800 px screen (a third of a 1080p grid) stretches a 400 px picture
// by a fifth, a small price for decoding a quarter of the pixels in every tile of the grid.
func (m *Manager) layerFor(maxWidth int) int {
	if maxWidth <= 0 || m.deps.SmallLayer == nil {
		return fullLayer
	}
	if w := m.screen().Width; w > 0 && maxWidth*5 <= w*3 {
		return smallLayer
	}
	return fullLayer
}

// FullSizeWanted reports whether the full-size encoder should get frames: false only while every session is on the
// half-size layer (a full-size session's arrival turns it back on before its keyframe request).
func (m *Manager) FullSizeWanted() bool { return !m.fullIdle.Load() }

// syncSmallLayer starts the small layer's encoder when a session uses it and stops it when none does.
func (m *Manager) syncSmallLayer() {
	if m.deps.SmallLayer == nil {
		return
	}
	m.smallMu.Lock()
	defer m.smallMu.Unlock()
	m.mu.Lock()
	want, full := false, false
	for _, s := range m.sessions {
		want = want || s.layer == smallLayer
		full = full || s.layer == fullLayer
	}
	want = want && !m.closed
	if !want {
		m.layers[smallLayer].target = 0
	}
	m.mu.Unlock()
	m.fullIdle.Store(want && !full)
	if want == m.smallOn {
		return
	}
	m.smallOn = want
	m.log.Info("half-size video layer", "on", want)
	m.deps.SmallLayer(want)
	if want {
		m.updateBitrate() // the new encoder gets the layer's target
	}
}

// validateOffer parses the SDP so that garbage gets a clear error before Pion sees it.
func validateOffer(s string) error {
	if len(s) == 0 {
		return fmt.Errorf("%w: empty SDP", ErrBadOffer)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return fmt.Errorf("%w: no media sections", ErrBadOffer)
	}
	return nil
}

// Offer answers a viewer's offer and starts its session. The answer carries every ICE candidate.
func (m *Manager) Offer(ctx context.Context, req OfferRequest) (Answer, error) {
	if req.SessionID == "" {
		return Answer{}, fmt.Errorf("%w: empty session id", ErrBadOffer)
	}
	if err := validateOffer(req.SDP); err != nil {
		return Answer{}, err
	}
	layer := m.layerFor(req.MaxWidth)
	m.mu.Lock()
	switch {
	case m.closed:
		m.mu.Unlock()
		return Answer{}, ErrClosed
	case m.sessions[req.SessionID] != nil:
		m.mu.Unlock()
		return Answer{}, fmt.Errorf("%w: %q", ErrDuplicateSession, req.SessionID)
	case len(m.sessions) >= m.cfg.MaxViewers:
		m.mu.Unlock()
		return Answer{}, fmt.Errorf("%w: %d sessions", ErrTooManyViewers, len(m.sessions))
	}
	s := &Session{id: req.SessionID, viewer: req.Viewer, m: m, created: time.Now(), layer: layer}
	m.sessions[s.id] = s // reserve the id
	m.mu.Unlock()
	m.syncSmallLayer()

	answer, err := s.start(ctx, req.SDP)
	if err != nil {
		m.mu.Lock()
		if m.sessions[s.id] == s {
			delete(m.sessions, s.id)
		}
		m.mu.Unlock()
		m.syncSmallLayer()
		if pc := s.pcp.Load(); pc != nil {
			_ = pc.Close()
		}
		return Answer{}, err
	}
	controller := false
	var changed *Viewer
	m.mu.Lock()
	if m.sessions[s.id] != s { // closed (CloseSession or Close) while it was being answered
		m.mu.Unlock()
		_ = s.pcp.Load().Close() // closePC may have run before the PeerConnection existed
		m.syncSmallLayer()
		return Answer{}, fmt.Errorf("%w: %q closed while answering", ErrUnknownSession, s.id)
	}
	if req.WantControl && (m.controller == nil || m.controller.ID == req.Viewer.ID) {
		if m.controller == nil || *m.controller != req.Viewer {
			v := req.Viewer
			m.controller = &v
			changed = &v
		}
		controller = true
	} else if m.controller != nil && m.controller.ID == req.Viewer.ID {
		controller = true
	}
	m.mu.Unlock()
	if changed != nil {
		m.controlChanged(changed)
	}
	m.log.Info("session started", "session", s.id, "viewer", req.Viewer.ID, "controller", controller,
		"layer", m.layers[s.layer].name)
	return Answer{SDP: answer, Controller: controller}, nil
}

// CloseSession ends a session at the broker's (or the viewer's) request.
func (m *Manager) CloseSession(id, reason string) error {
	m.mu.Lock()
	s := m.sessions[id]
	delete(m.sessions, id)
	m.retire(s)
	m.mu.Unlock()
	if s == nil {
		return fmt.Errorf("%w: %q", ErrUnknownSession, id)
	}
	m.log.Info("session closed", "session", id, "reason", reason)
	s.closePC()
	m.syncSmallLayer()
	m.updateBitrate()
	return nil
}

// retire keeps the counters of a session leaving m.sessions (m.mu held; s may be nil).
func (m *Manager) retire(s *Session) {
	if s == nil {
		return
	}
	if r := s.resender.Load(); r != nil {
		m.pastFeedback.add(r.snapshot())
	}
}

// sessionEnded removes a session that ended on its own and tells the broker.
func (m *Manager) sessionEnded(s *Session, reason string) {
	m.mu.Lock()
	cur := m.sessions[s.id]
	if cur == s {
		delete(m.sessions, s.id)
		m.retire(s)
	}
	m.mu.Unlock()
	if cur != s {
		return // already closed by request
	}
	m.log.Info("session ended", "session", s.id, "reason", reason)
	s.closePC()
	m.syncSmallLayer()
	if m.deps.SessionEnded != nil {
		m.deps.SessionEnded(s.id, reason)
	}
	m.updateBitrate()
}

// SetController gives control to viewerID ("" releases it) and returns the new controller.
func (m *Manager) SetController(viewerID string) *Viewer {
	m.mu.Lock()
	var v *Viewer
	if viewerID != "" {
		v = &Viewer{ID: viewerID}
		for _, s := range m.sessions {
			if s.viewer.ID == viewerID {
				v.Name = s.viewer.Name
			}
		}
	}
	same := (v == nil && m.controller == nil) || (v != nil && m.controller != nil && *v == *m.controller)
	m.controller = v
	m.mu.Unlock()
	if !same {
		m.controlChanged(v)
	}
	return v
}

// Controller returns who holds control, nil when nobody does.
func (m *Manager) Controller() *Viewer {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.controller == nil {
		return nil
	}
	v := *m.controller
	return &v
}

func (m *Manager) controlChanged(v *Viewer) {
	if m.deps.Input != nil {
		_ = m.deps.Input.ReleaseAll()
	}
	m.log.Info("control changed", "controller", v)
	m.broadcastStatus()
	if m.deps.ControlChanged != nil {
		m.deps.ControlChanged(v)
	}
}

// holdsControl reports whether viewerID holds control.
func (m *Manager) holdsControl(viewerID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.controller != nil && m.controller.ID == viewerID
}

func (m *Manager) screen() Screen {
	if m.deps.Screen == nil {
		return Screen{}
	}
	return m.deps.Screen()
}

// status returns the status JSON for a viewer.
func (m *Manager) status(viewerID string) string {
	sc := m.screen()
	m.mu.Lock()
	defer m.mu.Unlock()
	var c *Viewer
	if m.controller != nil {
		v := *m.controller
		c = &v
	}
	return statusJSON(c, c != nil && c.ID == viewerID, sc)
}

func (m *Manager) broadcastStatus() {
	m.mu.Lock()
	list := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		list = append(list, s)
	}
	m.mu.Unlock()
	for _, s := range list {
		s.sendStatus()
	}
}

// updateBitrate gives each layer's encoder the lowest estimate over that layer's sessions, within the configured
// bounds. A layer without sessions keeps its target (the small layer's encoder is stopped then).
func (m *Manager) updateBitrate() {
	m.mu.Lock()
	var set [len(m.layers)]int
	for i, l := range m.layers {
		target, n := 0, 0
		for _, s := range m.sessions {
			if s.layer != i {
				continue
			}
			n++
			if e := s.estimator(); e != nil {
				if bps := e.GetTargetBitrate(); bps > 0 && (target == 0 || bps < target) {
					target = bps
				}
			}
		}
		if n == 0 && i != fullLayer {
			continue
		}
		if target == 0 {
			target = m.cfg.MaxBitrate
		}
		target = min(max(target, m.cfg.MinBitrate), m.cfg.MaxBitrate)
		if target != l.target {
			l.target, set[i] = target, target
		}
	}
	m.mu.Unlock()
	for i, l := range m.layers {
		if set[i] != 0 && l.setBitrate != nil {
			l.setBitrate(set[i])
		}
	}
}

// Stats returns the current figures; SentBps is measured since the previous call.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Stats{Sessions: len(m.sessions), TargetBps: m.layers[fullLayer].target,
		SmallTargetBps: m.layers[smallLayer].target, Feedback: m.pastFeedback}
	var rttSum float64
	var rttN int
	for _, s := range m.sessions {
		if s.connected.Load() {
			st.Viewers++
		}
		if s.layer == smallLayer {
			st.SmallSessions++
		}
		if r := s.resender.Load(); r != nil {
			st.Feedback.add(r.snapshot())
		}
		if rtt, loss, ok := s.reception(); ok {
			rttSum += rtt
			rttN++
			st.Loss = max(st.Loss, loss)
		}
	}
	if rttN > 0 {
		st.RTTms = rttSum / float64(rttN)
	}
	_, vb := m.Video.Sent()
	_, sb := m.Small.Sent()
	sent := vb + sb
	if m.Audio != nil {
		_, ab := m.Audio.Sent()
		sent += ab
	}
	now := time.Now()
	if dt := now.Sub(m.lastSentAt).Seconds(); dt > 0 {
		st.SentBps = uint64(float64(sent-m.lastSent) * 8 / dt)
	}
	m.lastSent, m.lastSentAt = sent, now
	return st
}

// Run resends the status when the screen changes and repeats keyframe requests the encoder did not serve within
// 300 ms (also when a session still waits for its first keyframe, which Pion drops while DTLS is not up yet), until
// ctx is done; then it closes the manager.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.Close()
			return ctx.Err()
		case <-t.C:
			// Only while some session is connected: a viewer that never connects must not make the encoder
			// produce keyframes until its connect timeout.
			if m.anyConnected() {
				for _, l := range m.layers {
					if l.retryKeyFrame() {
						m.log.Debug("keyframe request not served yet, asked again", "layer", l.name)
					}
				}
			}
			sc := m.screen()
			m.mu.Lock()
			changed := sc != m.lastScreen
			m.lastScreen = sc
			m.mu.Unlock()
			if changed {
				m.broadcastStatus()
			}
		}
	}
}

func (m *Manager) anyConnected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.sessions {
		if s.connected.Load() {
			return true
		}
	}
	return false
}

// Close ends every session and closes the ICE ports.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	list := m.sessions
	m.sessions = map[string]*Session{}
	for _, s := range list {
		m.retire(s)
	}
	m.mu.Unlock()
	for _, s := range list {
		s.closePC()
	}
	m.syncSmallLayer()
	var errs []error
	if m.udpMux != nil {
		errs = append(errs, m.udpMux.Close())
	}
	if m.tcpMux != nil {
		errs = append(errs, m.tcpMux.Close())
	}
	if err := errors.Join(errs...); err != nil {
		m.log.Debug("closing ICE muxes", "err", err)
	}
}

// sessionEstimator is set by the GCC interceptor when a session's PeerConnection is built.
type sessionEstimator = cc.BandwidthEstimator
