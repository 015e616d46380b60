package webrtc

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	pion "github.com/pion/webrtc/v4"
)

// fakeContext is a binding context that records what is written.
type fakeContext struct {
	id      string
	ssrc    pion.SSRC
	exts    []pion.RTPHeaderExtensionParameter
	written []rtp.Header
	ready   bool
	keep    bool
}

func (c *fakeContext) CodecParameters() []pion.RTPCodecParameters {
	return []pion.RTPCodecParameters{{RTPCodecCapability: h264Codec.RTPCodecCapability, PayloadType: 97}}
}
func (c *fakeContext) HeaderExtensions() []pion.RTPHeaderExtensionParameter { return c.exts }
func (c *fakeContext) SSRC() pion.SSRC                                      { return c.ssrc }
func (c *fakeContext) SSRCRetransmission() pion.SSRC                        { return 0 }
func (c *fakeContext) SSRCForwardErrorCorrection() pion.SSRC                { return 0 }
func (c *fakeContext) WriteStream() pion.TrackLocalWriter                   { return c }
func (c *fakeContext) ID() string                                           { return c.id }
func (c *fakeContext) RTCPReader() interceptor.RTCPReader                   { return nil }
func (c *fakeContext) Write(b []byte) (int, error)                          { return len(b), nil }
func (c *fakeContext) WriteRTP(h *rtp.Header, p []byte) (int, error) {
	if !c.ready {
		return 0, nil // as Pion does before DTLS is up
	}
	if c.keep {
		hh := *h
		hh.Extensions = append([]rtp.Extension(nil), h.Extensions...)
		c.written = append(c.written, hh)
	}
	return h.MarshalSize() + len(p), nil
}

// annexB is a small H.264 access unit: an IDR slice NAL when key, else a non-IDR slice.
func annexB(key bool, size int) []byte {
	nal := byte(0x41)
	if key {
		nal = 0x65
	}
	b := append([]byte{0, 0, 0, 1, nal}, make([]byte, size)...)
	for i := 5; i < len(b); i++ {
		b[i] = byte(i) | 0x80 // no start codes inside
	}
	return b
}

func TestTrackFanOut(t *testing.T) {
	asked := 0
	tr, err := NewTrack("video/H264", "video", "s", func() { asked++ })
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeContext{id: "a", ssrc: 111, ready: true, keep: true,
		exts: []pion.RTPHeaderExtensionParameter{{URI: PlayoutDelayURI, ID: 6}}}
	b := &fakeContext{id: "b", ssrc: 222, keep: true}
	for _, c := range []*fakeContext{a, b} {
		if p, err := tr.Bind(c); err != nil || p.PayloadType != 97 {
			t.Fatalf("bind: %v %v", p, err)
		}
	}
	if asked != 2 || !tr.Waiting() {
		t.Fatalf("binding asked %d keyframes, waiting %v", asked, tr.Waiting())
	}
	tr.WriteFrame(annexB(false, 100), 0, false) // nobody gets a delta frame before a keyframe
	if len(a.written)+len(b.written) != 0 {
		t.Fatalf("a delta frame was sent to a waiting binding")
	}
	tr.WriteFrame(annexB(true, 3000), 33*time.Millisecond, true) // a gets it; b's SRTP is not ready: still waiting
	if len(a.written) < 3 || len(b.written) != 0 || !tr.Waiting() {
		t.Fatalf("a %d packets, b %d, waiting %v", len(a.written), len(b.written), tr.Waiting())
	}
	last := a.written[len(a.written)-1]
	if !last.Marker || last.SSRC != 111 || last.PayloadType != 97 {
		t.Errorf("last packet %+v", last)
	}
	for _, h := range a.written {
		if e := h.GetExtension(6); len(e) != 3 || e[0]|e[1]|e[2] != 0 {
			t.Fatalf("packet without playout-delay 0: %+v", h)
		}
	}
	b.ready = true
	tr.WriteFrame(annexB(true, 100), 66*time.Millisecond, true)
	tr.WriteFrame(annexB(false, 100), 100*time.Millisecond, false)
	if tr.Waiting() || len(b.written) != 2 || b.written[0].SSRC != 222 || len(b.written[0].Extensions) != 0 {
		t.Fatalf("b: %+v waiting %v", b.written, tr.Waiting())
	}
	// RTP timestamps follow the PTS at 90 kHz.
	if d := b.written[1].Timestamp - b.written[0].Timestamp; d != 3060 {
		t.Errorf("timestamp step %d, want 3060 (34 ms)", d)
	}
	if err := tr.Unbind(a); err != nil || tr.Bindings() != 1 {
		t.Errorf("unbind: %v, %d bindings", err, tr.Bindings())
	}
}

// BenchmarkTrackWriteFrame measures the fan-out of one encoded 800x600 P-frame (about 8 KB, 7 packets) to N
// viewers: packetizing once, a header per binding.
func BenchmarkTrackWriteFrame(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			tr, _ := NewTrack("video/H264", "video", "s", nil)
			for i := 0; i < n; i++ {
				_, _ = tr.Bind(&fakeContext{id: fmt.Sprint(i), ssrc: pion.SSRC(i + 1), ready: true,
					exts: []pion.RTPHeaderExtensionParameter{{URI: PlayoutDelayURI, ID: 6}}})
			}
			key, delta := annexB(true, 8000), annexB(false, 8000)
			tr.WriteFrame(key, 0, true)
			b.ReportAllocs()
			b.SetBytes(int64(len(delta)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr.WriteFrame(delta, time.Duration(i)*33*time.Millisecond, false)
			}
		})
	}
}
