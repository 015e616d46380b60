package webrtc

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
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
	onEstimator func(cc.BandwidthEstimator)) (*pion.API, error) {
	m := &pion.MediaEngine{}
	video := h264Codec
	if videoMime == pion.MimeTypeVP8 {
		video = vp8Codec
	}
	if err := m.RegisterCodec(video, pion.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register %s: %w", video.MimeType, err)
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
	ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(initial), gcc.SendSideBWEMinBitrate(minBps),
			gcc.SendSideBWEMaxBitrate(maxBps), gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return nil, fmt.Errorf("gcc: %w", err)
	}
	ccf.OnNewPeerConnection(func(_ string, est cc.BandwidthEstimator) { onEstimator(est) })
	reg.Add(ccf)
	if err := pion.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, fmt.Errorf("twcc sender: %w", err)
	}
	if err := pion.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("default interceptors: %w", err)
	}
	return pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(reg), pion.WithSettingEngine(se)), nil
}
