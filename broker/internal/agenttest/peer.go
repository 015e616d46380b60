package agenttest

import (
	"context"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// peer is one viewer session on the fake agent.
type peer struct {
	pc     *webrtc.PeerConnection
	cancel context.CancelFunc
}

func (p *peer) close() {
	p.cancel()
	_ = p.pc.Close()
}

// LoopbackAPI is a Pion API that gathers 127.0.0.1 host candidates only, without mDNS (see ../shared/TESTING.md).
func LoopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

var api = LoopbackAPI()

// answer sets up a PeerConnection for an offer and sends the answer (or an AgentError).
func (a *Agent) answer(o *locov1.SignalOffer) {
	sid := o.GetSessionId()
	fail := func(code locov1.AgentErrorCode, err error) {
		_ = a.send(agentErr(sid, code, err.Error()))
	}
	if a.cfg.NoMedia {
		fail(locov1.AgentErrorCode_AGENT_ERROR_CODE_UNAVAILABLE, errNoMedia)
		return
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		fail(locov1.AgentErrorCode_AGENT_ERROR_CODE_UNSPECIFIED, err)
		return
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "loco-"+a.cfg.ID)
	if err == nil {
		_, err = pc.AddTrack(track)
	}
	if err != nil {
		_ = pc.Close()
		fail(locov1.AgentErrorCode_AGENT_ERROR_CODE_UNSPECIFIED, err)
		return
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.GetSdp()}); err != nil {
		_ = pc.Close()
		fail(locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT, err)
		return
	}
	ans, err := pc.CreateAnswer(nil)
	if err == nil {
		gathered := webrtc.GatheringCompletePromise(pc)
		if err = pc.SetLocalDescription(ans); err == nil {
			<-gathered
		}
	}
	if err != nil {
		_ = pc.Close()
		fail(locov1.AgentErrorCode_AGENT_ERROR_CODE_UNSPECIFIED, err)
		return
	}
	role := locov1.Role_ROLE_SPECTATOR
	a.mu.Lock()
	if v := o.GetViewer(); v.GetId() != "" {
		a.viewers[v.GetId()] = v
		if o.GetRole() == locov1.Role_ROLE_CONTROLLER && (a.controller == nil || a.controller.GetId() == v.GetId()) {
			a.controller = v
			role = locov1.Role_ROLE_CONTROLLER
		}
	}
	ctl := a.controller
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{pc: pc, cancel: cancel}
	a.sessions[sid] = p
	a.mu.Unlock()
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
			a.mu.Lock()
			_, mine := a.sessions[sid]
			delete(a.sessions, sid)
			a.mu.Unlock()
			if mine {
				p.close()
				_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_SessionEnded{SessionEnded: &locov1.SessionEnded{
					SessionId: sid, Reason: "peer " + s.String()}}})
			}
		}
	})
	go sendFrames(ctx, track)
	if err := a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Answer{Answer: &locov1.SignalAnswer{
		SessionId: sid, Sdp: pc.LocalDescription().SDP, Role: role}}}); err != nil {
		p.close()
		return
	}
	if role == locov1.Role_ROLE_CONTROLLER {
		_ = a.send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Control{Control: &locov1.ControlState{Controller: ctl}}})
	}
}

// sendFrames writes a small fake VP8 frame 30 times a second (RTP does not care what the payload decodes to).
func sendFrames(ctx context.Context, track *webrtc.TrackLocalStaticSample) {
	t := time.NewTicker(33 * time.Millisecond)
	defer t.Stop()
	frame := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x00, 0x30, 0x00, 0x00, 0x00}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = track.WriteSample(media.Sample{Data: frame, Duration: 33 * time.Millisecond})
		}
	}
}
