// Package webrtctest is a Go WebRTC viewer (Pion) for tests and measuring tools: it offers to receive video and
// audio with a DataChannel "input", like the browser does, reassembles the frames it receives, notes whether each
// video packet carried the playout-delay extension, sends PLIs and input, and collects the status messages.
package webrtctest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
)

// PlayoutDelayURI is the playout-delay header extension's URI.
const PlayoutDelayURI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

// Frame is one received video frame.
type Frame struct {
	Data     []byte // H.264 Annex-B access unit or VP8 frame
	Keyframe bool
	// PlayoutDelay is true when every packet of the frame carried playout-delay min = max = 0.
	PlayoutDelay bool
	RTPTime      uint32
	Arrived      time.Time
}

// AudioPacket is one received Opus packet.
type AudioPacket struct {
	Data    []byte
	RTPTime uint32
}

// Viewer is a receiving PeerConnection.
type Viewer struct {
	PC *pion.PeerConnection
	DC *pion.DataChannel

	mu        sync.Mutex
	frames    []Frame
	audio     []AudioPacket
	statuses  []string
	videoMime string
	videoSSRC uint32
	notify    chan struct{}
	dcOpen    chan struct{}
}

// New builds a viewer offering H.264, VP8 and Opus, with the playout-delay extension and a DataChannel "input".
func New() (*Viewer, error) {
	m := &pion.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	if err := m.RegisterHeaderExtension(pion.RTPHeaderExtensionCapability{URI: PlayoutDelayURI},
		pion.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	api := pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(reg), pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		return nil, err
	}
	v := &Viewer{PC: pc, notify: make(chan struct{}, 1), dcOpen: make(chan struct{})}
	for _, k := range []pion.RTPCodecType{pion.RTPCodecTypeVideo, pion.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, pion.RTPTransceiverInit{
			Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			return nil, err
		}
	}
	v.DC, err = pc.CreateDataChannel("input", nil)
	if err != nil {
		return nil, err
	}
	v.DC.OnOpen(func() { close(v.dcOpen) })
	v.DC.OnMessage(func(msg pion.DataChannelMessage) {
		if msg.IsString {
			v.mu.Lock()
			v.statuses = append(v.statuses, string(msg.Data))
			v.mu.Unlock()
			v.wake()
		}
	})
	pc.OnTrack(v.onTrack)
	return v, nil
}

// Offer creates the offer with every candidate gathered.
func (v *Viewer) Offer() (string, error) {
	offer, err := v.PC.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	done := pion.GatheringCompletePromise(v.PC)
	if err := v.PC.SetLocalDescription(offer); err != nil {
		return "", err
	}
	<-done
	return v.PC.LocalDescription().SDP, nil
}

// Accept applies the agent's answer.
func (v *Viewer) Accept(answer string) error {
	return v.PC.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: answer})
}

// Close closes the PeerConnection.
func (v *Viewer) Close() error { return v.PC.Close() }

func (v *Viewer) wake() {
	select {
	case v.notify <- struct{}{}:
	default:
	}
}

func (v *Viewer) onTrack(tr *pion.TrackRemote, rx *pion.RTPReceiver) {
	// Incoming RTCP (the agent's sender reports) reaches the interceptors only when it is read; the receiver
	// reports' LSR/DLSR, and so the agent's RTT, depend on it.
	go func() {
		for {
			if _, _, err := rx.ReadRTCP(); err != nil {
				return
			}
		}
	}()
	if tr.Kind() == pion.RTPCodecTypeAudio {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			v.mu.Lock()
			v.audio = append(v.audio, AudioPacket{Data: append([]byte(nil), p.Payload...), RTPTime: p.Timestamp})
			v.mu.Unlock()
			v.wake()
		}
	}
	mime := tr.Codec().MimeType
	var playoutID uint8
	for _, e := range v.negotiatedExtensions() {
		if e.URI == PlayoutDelayURI {
			playoutID = uint8(e.ID)
		}
	}
	v.mu.Lock()
	v.videoMime = mime
	v.videoSSRC = uint32(tr.SSRC())
	v.mu.Unlock()
	var cur []byte
	var curTS uint32
	var lastSeq uint16
	started, inFrame, broken, delayAll := false, false, false, true
	var h264 codecs.H264Packet
	var vp8 codecs.VP8Packet
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		gap := started && p.SequenceNumber != lastSeq+1
		started, lastSeq = true, p.SequenceNumber
		if !inFrame || p.Timestamp != curTS {
			cur, curTS, broken, delayAll, inFrame = cur[:0], p.Timestamp, false, true, true
		}
		if gap {
			broken = true
		}
		if playoutID == 0 || !isZeroPlayout(p.Header.GetExtension(playoutID)) {
			delayAll = false
		}
		var payload []byte
		if strings.EqualFold(mime, pion.MimeTypeH264) {
			payload, err = h264.Unmarshal(p.Payload)
		} else {
			payload, err = vp8.Unmarshal(p.Payload)
		}
		if err != nil {
			broken = true
		}
		cur = append(cur, payload...)
		if !p.Marker {
			continue
		}
		inFrame = false
		if broken {
			continue
		}
		f := Frame{Data: append([]byte(nil), cur...), PlayoutDelay: delayAll, RTPTime: curTS, Arrived: time.Now()}
		f.Keyframe = isKeyframe(mime, f.Data)
		v.mu.Lock()
		v.frames = append(v.frames, f)
		v.mu.Unlock()
		v.wake()
	}
}

func (v *Viewer) negotiatedExtensions() []pion.RTPHeaderExtensionParameter {
	for _, tr := range v.PC.GetTransceivers() {
		if tr.Kind() == pion.RTPCodecTypeVideo && tr.Receiver() != nil {
			return tr.Receiver().GetParameters().HeaderExtensions
		}
	}
	return nil
}

func isZeroPlayout(b []byte) bool {
	var e rtp.PlayoutDelayExtension
	return len(b) == 3 && e.Unmarshal(b) == nil && e.MinDelay == 0 && e.MaxDelay == 0
}

// isKeyframe tells a VP8 key frame (P bit clear) or an H.264 access unit with an IDR slice.
func isKeyframe(mime string, data []byte) bool {
	if len(data) == 0 {
		return false
	}
	if !strings.EqualFold(mime, pion.MimeTypeH264) {
		return data[0]&0x01 == 0
	}
	for i := 0; i+3 < len(data); i++ {
		if data[i] == 0 && data[i+1] == 0 && data[i+2] == 1 {
			if data[i+3]&0x1f == 5 {
				return true
			}
			i += 2
		}
	}
	return false
}

// Frames returns a copy of the frames received so far.
func (v *Viewer) Frames() []Frame {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]Frame(nil), v.frames...)
}

// Audio returns the audio packets received so far.
func (v *Viewer) Audio() []AudioPacket {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]AudioPacket(nil), v.audio...)
}

// Statuses returns the status messages received so far.
func (v *Viewer) Statuses() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.statuses...)
}

// VideoMime returns the negotiated video codec once the track arrived.
func (v *Viewer) VideoMime() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.videoMime
}

// WaitFor polls cond after every received frame, packet or message until it returns true or ctx ends.
func (v *Viewer) WaitFor(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.notify:
		case <-t.C:
		}
	}
	return nil
}

// WaitOpen waits for the input DataChannel to open.
func (v *Viewer) WaitOpen(ctx context.Context) error {
	select {
	case <-v.dcOpen:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("input channel did not open: %w", ctx.Err())
	}
}

// SendPLI sends a Picture Loss Indication for the video track.
func (v *Viewer) SendPLI() error {
	v.mu.Lock()
	ssrc := v.videoSSRC
	v.mu.Unlock()
	if ssrc == 0 {
		return errors.New("no video track yet")
	}
	return v.PC.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// SendInput sends one binary input message.
func (v *Viewer) SendInput(msg []byte) error { return v.DC.Send(msg) }
