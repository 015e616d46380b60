// Package webrtc serves one instance's media to viewers with Pion: one shared video and one shared audio track,
// encoded once and fanned out to every viewer session, a DataChannel "input" per session, and control handover.
//
// # Media
//
// The encoder's output goes into a [Track] ([Track.WriteFrame]): it is packetized once (H.264, VP8 or Opus
// payloader, RTP timestamps from the encoder's PTS) and every packet is written to every bound session. Each
// binding gets its own copy of the header, with its negotiated SSRC, payload type and header extensions: on video,
// the playout-delay extension (http://www.webrtc.org/experiments/rtp-hdrext/playout-delay) with min = max = 0 is put
// on every packet, so Chromium renders each frame as soon as it is decoded instead of holding it in its jitter buffer
// (libwebrtc reads the extension from every packet it receives and keeps the last value). A new binding receives
// nothing until the next keyframe and asks for one at once. Video and audio travel in separate MediaStreams, so the
// browser does not hold video back for lip-sync.
//
// pion/mediadevices is not used: its Track binds a new encoder per PeerConnection (NewRTPReader per Bind), which is
// the opposite of "encode once, fan out", and its RTCP loop only handles PLI/FIR. Here each session reads its own
// RTCP ([Session]): PLI and FIR force a keyframe (coalesced), receiver reports give RTT and loss.
//
// # Congestion control
//
// Every session registers Pion's default interceptors (RTCP reports, NACK feedback), the TWCC header-extension
// sender and the GCC send-side estimator (no pacer: packets are never held back). The lowest estimate over all
// sessions, bounded by [Config.MinBitrate] and [Config.MaxBitrate], becomes the encoder's target ([Deps.Bitrate]).
//
// # Loss recovery
//
// A lost video packet is retransmitted when the viewer NACKs it, on an RTX stream (RFC 4588) when the viewer
// offers one, so that libwebrtc does not take retransmissions for reordered packets. The session's retransmitter
// (not Pion's NACK responder, whose rate limit let a burst of NACKed packets out one or two per NACK round after an
// outage) keeps the last 1024 packets, answers each NACK whole at once within a budget of half a second of
// [Config.MaxBitrate], and, while the viewer's receiver reports show loss of 1 % or more, sends the retransmissions
// of a burst (three packets or more in one NACK: an outage, a lost run of a keyframe) twice, since a lost
// retransmission costs another round trip. A video frame that no other frame follows within 50 ms gets a
// padding-only packet after it (a tail-loss probe): the viewer sees losses as gaps in the sequence numbers, so
// without it the loss of a frame's last packets (a keyframe's, on a still screen) would wait for the next frame.
// PLI and FIR force a keyframe. [Stats.Feedback] counts PLIs, FIRs, NACKs and retransmissions.
//
// # ICE
//
// One UDP port for all sessions (ICE UDP mux), one ICE-TCP mux port, NAT 1:1 addresses ([Config.PublicIPs]),
// STUN/TURN servers ([Config.ICEServers]), loopback candidates only when [Config.AllowLoopback], mDNS off. Answers
// are sent complete: [Manager.Offer] waits for candidate gathering (non-trickle).
//
// # Control
//
// At most one viewer holds control. A session's input is injected only when its viewer holds control; the others
// are spectators. The status message of proto/loco/v1/input.md is sent on each "input" channel when it opens and
// whenever control or the screen changes.
package webrtc
