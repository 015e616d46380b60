package webrtc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
)

// InputLabel is the DataChannel label of the input protocol.
const InputLabel = "input"

// Session is one viewer's PeerConnection.
type Session struct {
	id      string
	viewer  Viewer
	m       *Manager
	created time.Time
	layer   int // index of Manager.layers: which video track the session gets

	pcp       atomic.Pointer[pion.PeerConnection] // set by start
	est       atomic.Pointer[sessionEstimator]
	resender  atomic.Pointer[retransmitter]
	dc        atomic.Pointer[pion.DataChannel]
	connected atomic.Bool
	closeOnce sync.Once

	recMu   sync.Mutex
	rttMs   float64
	loss    float64
	haveRec bool
}

func (s *Session) estimator() sessionEstimator {
	if e := s.est.Load(); e != nil {
		return *e
	}
	return nil
}

// start builds the PeerConnection, applies the offer and returns the complete answer.
func (s *Session) start(ctx context.Context, offer string) (string, error) {
	m := s.m
	api, err := newAPI(m.se, m.cfg.VideoMime, m.cfg.MinBitrate, m.cfg.MaxBitrate, func(e sessionEstimator) {
		s.est.Store(&e)
		e.OnTargetBitrateChange(func(int) { m.updateBitrate() })
	}, s.resender.Store)
	if err != nil {
		return "", err
	}
	pc, err := api.NewPeerConnection(pion.Configuration{ICEServers: m.cfg.ICEServers})
	if err != nil {
		return "", fmt.Errorf("new peer connection: %w", err)
	}
	s.pcp.Store(pc)
	video := m.layers[s.layer]
	tracks := []*Track{video.track}
	if m.Audio != nil {
		tracks = append(tracks, m.Audio)
	}
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly})
		if err != nil {
			return "", fmt.Errorf("add %s track: %w", t.Kind(), err)
		}
		var keyFrame func()
		if t == video.track {
			keyFrame = video.requestKeyFrame
		}
		go s.readRTCP(tr.Sender(), keyFrame)
	}
	pc.OnDataChannel(s.onDataChannel)
	pc.OnConnectionStateChange(s.onState)
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadOffer, err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: cannot answer (the agent sends %s and Opus): %w", ErrBadOffer, m.cfg.VideoMime, err)
	}
	gathered := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	timer := time.NewTimer(m.cfg.GatherTimeout)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
		return "", ErrGather
	case <-ctx.Done():
		return "", fmt.Errorf("answering: %w", ctx.Err())
	}
	time.AfterFunc(m.cfg.ConnectTimeout, func() {
		if !s.connected.Load() {
			m.sessionEnded(s, "not connected within "+m.cfg.ConnectTimeout.String())
		}
	})
	return pc.LocalDescription().SDP, nil
}

func (s *Session) onState(st pion.PeerConnectionState) {
	switch st {
	case pion.PeerConnectionStateConnected:
		if !s.connected.Swap(true) {
			s.m.log.Info("viewer connected", "session", s.id, "after", time.Since(s.created).Round(time.Millisecond))
			s.m.layers[s.layer].requestKeyFrame()
		}
	case pion.PeerConnectionStateFailed:
		s.m.sessionEnded(s, "ice failed")
	case pion.PeerConnectionStateClosed:
		s.m.sessionEnded(s, "peer closed")
	}
}

func (s *Session) onDataChannel(dc *pion.DataChannel) {
	if dc.Label() != InputLabel {
		s.m.log.Info("closing unknown data channel", "session", s.id, "label", dc.Label())
		_ = dc.Close()
		return
	}
	s.dc.Store(dc)
	dc.OnOpen(s.sendStatus)
	dc.OnMessage(func(msg pion.DataChannelMessage) {
		in := s.m.deps.Input
		if in == nil {
			return
		}
		if err := in.Handle(msg.Data, s.m.holdsControl(s.viewer.ID)); err != nil {
			s.m.log.Debug("input rejected", "session", s.id, "err", err)
		}
	})
}

// sendStatus sends the JSON status on the input channel, if it is open.
func (s *Session) sendStatus() {
	dc := s.dc.Load()
	if dc == nil || dc.ReadyState() != pion.DataChannelStateOpen {
		return
	}
	if err := dc.SendText(s.m.status(s.viewer.ID)); err != nil {
		s.m.log.Debug("sending status", "session", s.id, "err", err)
	}
}

// readRTCP handles a sender's RTCP: PLI/FIR ask keyFrame (the video layer's encoder; nil for audio), receiver
// reports give RTT and loss.
func (s *Session) readRTCP(sender *pion.RTPSender, keyFrame func()) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.m.log.Debug("keyframe requested by the viewer", "session", s.id, "rtcp", fmt.Sprintf("%T", p))
				if keyFrame != nil {
					keyFrame()
				}
			case *rtcp.ReceiverReport:
				s.receptionReports(p.Reports)
			}
		}
	}
}

func (s *Session) receptionReports(reports []rtcp.ReceptionReport) {
	now := ntpMiddle(time.Now())
	for _, r := range reports {
		loss := float64(r.FractionLost) / 256
		s.recMu.Lock()
		s.loss = loss
		if r.LastSenderReport != 0 {
			// RTT = arrival - LSR - DLSR, in 1/65536 s (RFC 3550 6.4.1).
			rtt := int64(now) - int64(r.LastSenderReport) - int64(r.Delay)
			if rtt >= 0 && rtt < 65536*10 {
				s.rttMs = float64(rtt) * 1000 / 65536
			}
		}
		s.haveRec = true
		s.recMu.Unlock()
	}
}

// reception returns the latest RTT (ms) and loss fraction, and whether any report came.
func (s *Session) reception() (rttMs, loss float64, ok bool) {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	return s.rttMs, s.loss, s.haveRec
}

// ntpMiddle returns the middle 32 bits of the NTP timestamp of t.
func ntpMiddle(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return uint32((secs<<32 | frac) >> 16 & math.MaxUint32)
}

func (s *Session) closePC() {
	s.closeOnce.Do(func() {
		if pc := s.pcp.Load(); pc != nil {
			if err := pc.Close(); err != nil && !errors.Is(err, pion.ErrConnectionClosed) {
				s.m.log.Debug("closing peer connection", "session", s.id, "err", err)
			}
		}
	})
}
