package webrtc

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	pion "github.com/pion/webrtc/v4"
)

// PlayoutDelayURI is the RTP header extension that tells the receiver how long it may buffer a frame.
const PlayoutDelayURI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"

// rtpMTU is the largest RTP payload the track produces (room for SRTP, extensions and TURN overhead).
const rtpMTU = 1180

// Track is one media track shared by every session: frames written once are packetized once and sent to every
// binding. It implements pion's TrackLocal.
type Track struct {
	id, streamID string
	codec        pion.RTPCodecCapability
	clockRate    uint32
	video        bool
	payloader    rtp.Payloader
	onBind       func() // called (without locks) when a new binding needs a keyframe
	// noPlayoutDelay leaves the playout-delay extension out (comparison measurements only).
	noPlayoutDelay bool

	writeMu   sync.Mutex // serializes WriteFrame (packetizer and sequencer state) and the tail-loss probe
	sequencer rtp.Sequencer
	tsBase    uint32
	firstPTS  time.Duration
	started   bool
	// The tail-loss probe of the last video frame (see tailProbeDelay).
	probe    *time.Timer
	probeDue time.Time
	probed   bool
	lastTS   uint32

	mu       sync.RWMutex
	bindings []*binding

	packets, bytes atomic.Uint64
}

type binding struct {
	id          string
	ssrc        pion.SSRC
	payloadType pion.PayloadType
	writer      pion.TrackLocalWriter
	playoutID   uint8
	waitKey     bool
	dropped     bool // a packet of the current keyframe was not sent (SRTP not ready yet)
	exts        []rtp.Extension
	hdr         rtp.Header
}

// tailProbeDelay is how long after a video frame, when no other frame followed, the track sends a padding-only
// packet with the next sequence number (and the frame's timestamp). A viewer notices lost packets only by a gap in
// the sequence numbers, so without the probe the loss of a frame's last packets would go unnoticed until the next
// frame: on a still screen, the keep-alive a second later. Longer than a frame interval at 30 frames/s, so a moving
// picture never needs one.
const tailProbeDelay = 50 * time.Millisecond

// probePadding is the probe's padding length (RTP needs at least one byte: the count).
const probePadding = 4

// playoutZero is the playout-delay extension payload for min = max = 0.
var playoutZero = []byte{0, 0, 0}

// NewTrack returns a track for mime ("video/H264", "video/VP8", "audio/opus"). onBind, if set, is called whenever a
// session binds the track (a video track asks the encoder for a keyframe there).
func NewTrack(mime, id, streamID string, onBind func()) (*Track, error) {
	t := &Track{id: id, streamID: streamID, onBind: onBind, sequencer: rtp.NewRandomSequencer(),
		tsBase: rand.Uint32()}
	switch strings.ToLower(mime) {
	case "video/h264":
		t.codec = h264Codec.RTPCodecCapability
		t.payloader = &codecs.H264Payloader{}
	case "video/vp8":
		t.codec = vp8Codec.RTPCodecCapability
		t.payloader = &codecs.VP8Payloader{EnablePictureID: true}
	case "audio/opus":
		t.codec = opusCodec.RTPCodecCapability
		t.payloader = &codecs.OpusPayloader{}
	default:
		return nil, ErrConfig
	}
	t.clockRate = t.codec.ClockRate
	t.video = strings.HasPrefix(t.codec.MimeType, "video/")
	return t, nil
}

// ID implements pion.TrackLocal.
func (t *Track) ID() string { return t.id }

// RID implements pion.TrackLocal.
func (t *Track) RID() string { return "" }

// StreamID implements pion.TrackLocal.
func (t *Track) StreamID() string { return t.streamID }

// Kind implements pion.TrackLocal.
func (t *Track) Kind() pion.RTPCodecType {
	if t.video {
		return pion.RTPCodecTypeVideo
	}
	return pion.RTPCodecTypeAudio
}

// Codec returns the track's codec.
func (t *Track) Codec() pion.RTPCodecCapability { return t.codec }

// Bind implements pion.TrackLocal.
func (t *Track) Bind(ctx pion.TrackLocalContext) (pion.RTPCodecParameters, error) {
	var chosen *pion.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.codec.MimeType) {
			c := c
			chosen = &c
			break
		}
	}
	if chosen == nil {
		return pion.RTPCodecParameters{}, pion.ErrUnsupportedCodec
	}
	b := &binding{id: ctx.ID(), ssrc: ctx.SSRC(), payloadType: chosen.PayloadType, writer: ctx.WriteStream(),
		waitKey: t.video, exts: make([]rtp.Extension, 0, 4)}
	if t.video && !t.noPlayoutDelay {
		for _, e := range ctx.HeaderExtensions() {
			if e.URI == PlayoutDelayURI {
				b.playoutID = uint8(e.ID)
			}
		}
	}
	t.mu.Lock()
	t.bindings = append(t.bindings, b)
	t.mu.Unlock()
	if t.onBind != nil {
		t.onBind()
	}
	return *chosen, nil
}

// Unbind implements pion.TrackLocal.
func (t *Track) Unbind(ctx pion.TrackLocalContext) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, b := range t.bindings {
		if b.id == ctx.ID() {
			t.bindings = append(t.bindings[:i], t.bindings[i+1:]...)
			return nil
		}
	}
	return nil
}

// Bindings returns the number of sessions bound to the track.
func (t *Track) Bindings() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.bindings)
}

// Sent returns the packets and bytes (headers included) written to all bindings.
func (t *Track) Sent() (packets, bytes uint64) { return t.packets.Load(), t.bytes.Load() }

// WriteFrame packetizes one encoded frame (or audio packet) and sends it to every binding. pts is the encoder's
// presentation time; only differences matter. keyframe releases bindings waiting for one.
func (t *Track) WriteFrame(data []byte, pts time.Duration, keyframe bool) {
	if len(data) == 0 {
		return
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if !t.started {
		t.firstPTS, t.started = pts, true
	}
	ts := t.tsBase + uint32(int64(pts-t.firstPTS)*int64(t.clockRate)/int64(time.Second))
	payloads := t.payloader.Payload(rtpMTU, data)
	if len(payloads) == 0 {
		return
	}
	t.mu.Lock() // bindings' waitKey and exts change below
	defer t.mu.Unlock()
	for i, p := range payloads {
		t.send(rtp.Header{
			Version:        2,
			Marker:         i == len(payloads)-1,
			SequenceNumber: t.sequencer.NextSequenceNumber(),
			Timestamp:      ts,
		}, p, keyframe)
	}
	for _, b := range t.bindings {
		if keyframe && !b.dropped {
			b.waitKey = false
		}
		b.dropped = false
	}
	if t.video {
		t.lastTS, t.probed = ts, false
		t.probeDue = time.Now().Add(tailProbeDelay)
		if t.probe == nil {
			t.probe = time.AfterFunc(tailProbeDelay, t.sendProbe)
		} else {
			t.probe.Reset(tailProbeDelay)
		}
	}
}

// send writes one packet to every binding not waiting for a keyframe (under writeMu and mu).
func (t *Track) send(hdr rtp.Header, payload []byte, keyframe bool) {
	for _, b := range t.bindings {
		if b.waitKey && !keyframe {
			continue
		}
		// Each binding has its own reused header: its SSRC, payload type and extensions (interceptors add theirs
		// to it), and no allocation per packet.
		h := &b.hdr
		*h = hdr
		h.SSRC = uint32(b.ssrc)
		h.PayloadType = uint8(b.payloadType)
		h.Extensions = b.exts[:0]
		if b.playoutID != 0 {
			_ = h.SetExtension(b.playoutID, playoutZero)
		}
		// Before DTLS is up Pion drops packets silently (0, nil): a keyframe lost so does not count.
		if n, err := b.writer.WriteRTP(h, payload); err == nil && n > 0 {
			t.packets.Add(1)
			t.bytes.Add(uint64(n))
		} else {
			b.dropped = true
		}
	}
}

// sendProbe sends the tail-loss probe (see tailProbeDelay) when no frame followed the last one in time.
func (t *Track) sendProbe() {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.probed || time.Now().Before(t.probeDue) {
		return // a frame came after all (the timer fired while it was being written)
	}
	t.probed = true
	t.mu.Lock()
	defer t.mu.Unlock()
	t.send(rtp.Header{Version: 2, Padding: true, PaddingSize: probePadding,
		SequenceNumber: t.sequencer.NextSequenceNumber(), Timestamp: t.lastTS}, nil, false)
	for _, b := range t.bindings {
		b.dropped = false
	}
}

// Waiting reports whether a binding still waits for a keyframe.
func (t *Track) Waiting() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, b := range t.bindings {
		if b.waitKey {
			return true
		}
	}
	return false
}
