package agenttest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Viewer is a WHEP player built on Pion: recvonly video and audio plus an "input" DataChannel, like the browser.
type Viewer struct {
	// PC is the viewer's PeerConnection.
	PC *webrtc.PeerConnection
	// Location is the session URL from the 201 answer.
	Location string
	// Role is the X-Loco-Role header of the answer.
	Role string
	// Track is closed when the first RTP packet of a remote track arrives.
	Track chan struct{}
	// Connected is closed when the PeerConnection is connected.
	Connected chan struct{}
}

// Offer creates a viewer PeerConnection and its complete offer (candidates gathered).
func Offer() (*Viewer, string, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	v := &Viewer{PC: pc, Track: make(chan struct{}), Connected: make(chan struct{})}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, "", err
		}
	}
	if _, err := pc.CreateDataChannel("input", nil); err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	var trackOnce, connOnce sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if _, _, err := tr.ReadRTP(); err == nil {
			trackOnce.Do(func() { close(v.Track) })
		}
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			connOnce.Do(func() { close(v.Connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		_ = pc.Close()
		return nil, "", err
	}
	<-gathered
	return v, pc.LocalDescription().SDP, nil
}

// Watch runs a WHEP session against base (the broker's HTTP root) for instance id: POST the offer, apply the
// answer. query is added to the WHEP URL (role, viewer, name). The caller closes the viewer.
func Watch(ctx context.Context, base, id string, query url.Values) (*Viewer, error) {
	v, sdp, err := Offer()
	if err != nil {
		return nil, err
	}
	u := base + "/api/instances/" + url.PathEscape(id) + "/whep"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(sdp))
	if err != nil {
		_ = v.PC.Close()
		return nil, err
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		_ = v.PC.Close()
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		_ = v.PC.Close()
		return nil, fmt.Errorf("WHEP POST %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	v.Location = resp.Header.Get("Location")
	v.Role = resp.Header.Get("X-Loco-Role")
	if err := v.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		_ = v.PC.Close()
		return nil, fmt.Errorf("apply answer: %w", err)
	}
	return v, nil
}

// Close closes the viewer's PeerConnection.
func (v *Viewer) Close() error { return v.PC.Close() }
