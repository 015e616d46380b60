package webrtc

import (
	"fmt"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

var videoFeedback = []pion.RTCPFeedback{
	{Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "transport-cc"},
}

var (
	h264Codec = pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{
			MimeType:     pion.MimeTypeH264,
			ClockRate:    90000,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: videoFeedback,
		},
		PayloadType: 102,
	}
	vp8Codec = pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: pion.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback,
		},
		PayloadType: 96,
	}
	opusCodec = pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{
			MimeType: pion.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []pion.RTCPFeedback{{Type: "transport-cc"}},
		},
		PayloadType: 111,
	}
)

// newAPI builds the Pion API of one session: codecs (only the agent's video codec, and Opus), the playout-delay
// extension, default interceptors, TWCC and GCC. onEstimator receives the session's bandwidth estimator.
func newAPI(se pion.SettingEngine, videoMime string, minBps, maxBps int,
	onEstimator func(cc.BandwidthEstimator), onRetransmitter func(*retransmitter)) (*pion.API, error) {
	m := &pion.MediaEngine{}
	video := h264Codec
	if videoMime == pion.MimeTypeVP8 {
		video = vp8Codec
	}
	if err := m.RegisterCodec(video, pion.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register %s: %w", video.MimeType, err)
	}
	// RTX (RFC 4588): retransmissions travel on their own SSRC, so the viewer tells them from late packets (libwebrtc
	// otherwise takes them for reordering and waits longer before NACKing).
	rtx := pion.RTPCodecParameters{
		RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeRTX, ClockRate: 90000,
			SDPFmtpLine: fmt.Sprintf("apt=%d", video.PayloadType)},
		PayloadType: video.PayloadType + 1,
	}
	if err := m.RegisterCodec(rtx, pion.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register rtx: %w", err)
	}
	if err := m.RegisterCodec(opusCodec, pion.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	if err := m.RegisterHeaderExtension(pion.RTPHeaderExtensionCapability{URI: PlayoutDelayURI},
		pion.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register playout-delay: %w", err)
	}
	// Order matters: an interceptor added later sees outgoing packets first, and GCC needs the TWCC sequence
	// number that the header-extension sender adds.
	reg := &interceptor.Registry{}
	initial := min(maxBps, max(minBps, 1_500_000))
	pacer := &directPacer{writers: map[uint32]interceptor.RTPWriter{}}
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(initial), gcc.SendSideBWEMinBitrate(minBps),
			gcc.SendSideBWEMaxBitrate(maxBps), gcc.SendSideBWEPacer(pacer))
	})
	if err != nil {
		return nil, fmt.Errorf("gcc: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, est cc.BandwidthEstimator) { onEstimator(est) })
	reg.Add(ccf)
	if err := pion.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, fmt.Errorf("twcc sender: %w", err)
	}
	// NACKs are answered by our retransmitter (see retransmitter for why not by Pion's responder). Added after
	// the TWCC header-extension sender, it sees packets before it: retransmissions get their own TWCC numbers.
	reg.Add(&retransmitFactory{maxBps: maxBps, pacer: pacer, onNew: onRetransmitter})
	noResponder := nack.ResponderStreamsFilter(func(*interceptor.StreamInfo) bool { return false })
	if err := pion.RegisterDefaultInterceptorsWithOptions(m, reg, pion.WithNackResponderOptions(noResponder)); err != nil {
		return nil, fmt.Errorf("default interceptors: %w", err)
	}
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(reg), pion.WithSettingEngine(se)), nil
}

// directPacer is GCC's pacer: like gcc.NoOpPacer it sends every packet at once, and it also knows a stream's RTX
// SSRC (GCC registers only the media SSRC, so a pacer of its own refuses retransmissions on RTX).
type directPacer struct {
	mu      sync.Mutex
	writers map[uint32]interceptor.RTPWriter
}

// AddStream implements gcc.Pacer.
func (p *directPacer) AddStream(ssrc uint32, w interceptor.RTPWriter) {
	p.mu.Lock()
	p.writers[ssrc] = w
	p.mu.Unlock()
}

// alias sends the packets of SSRC rtx through the writer of SSRC media.
func (p *directPacer) alias(rtx, media uint32) {
	p.mu.Lock()
	if w := p.writers[media]; w != nil {
		p.writers[rtx] = w
	}
	p.mu.Unlock()
}

// SetTargetBitrate implements gcc.Pacer (nothing is held back).
func (p *directPacer) SetTargetBitrate(int) {}

// Write implements gcc.Pacer.
func (p *directPacer) Write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	p.mu.Lock()
	w := p.writers[h.SSRC]
	p.mu.Unlock()
	if w == nil {
		return 0, fmt.Errorf("%w: %d", gcc.ErrUnknownStream, h.SSRC)
	}
	return w.Write(h, payload, a)
}

// Close implements gcc.Pacer.
func (p *directPacer) Close() error { return nil }
