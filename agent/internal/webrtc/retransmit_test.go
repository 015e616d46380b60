package webrtc

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	pion "github.com/pion/webrtc/v4"
)

// nackViewer is a bare Pion receiver without a NACK generator of its own: the test decides what to NACK. It records
// every video packet's sequence number and whether it arrived on the RTX stream.
type nackViewer struct {
	pc   *pion.PeerConnection
	ssrc atomic.Uint32

	mu      sync.Mutex
	seen    map[uint16]int // times each sequence number arrived
	viaRTX  map[uint16]int // of which on the RTX stream
	packets int
	last    []received // the media stream's packets, in arrival order (not the RTX copies)
}

// received is one packet as the viewer got it.
type received struct {
	seq         uint16
	ts          uint32
	marker      bool
	paddingOnly bool
}

func newNACKViewer(t *testing.T, rtx bool) *nackViewer {
	t.Helper()
	m := &pion.MediaEngine{}
	fb := []pion.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	for _, c := range []pion.RTPCodecParameters{
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb},
			PayloadType: 108},
		{RTPCodecCapability: pion.RTPCodecCapability{MimeType: pion.MimeTypeRTX, ClockRate: 90000,
			SDPFmtpLine: "apt=108"}, PayloadType: 109},
	} {
		if c.MimeType == pion.MimeTypeRTX && !rtx {
			continue
		}
		if err := m.RegisterCodec(c, pion.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	// Without RTX a retransmission repeats an SRTP index the viewer already has (nothing is really lost here).
	se.DisableSRTPReplayProtection(!rtx)
	api := pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(&interceptor.Registry{}),
		pion.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	v := &nackViewer{pc: pc, seen: map[uint16]int{}, viaRTX: map[uint16]int{}}
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo,
		pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
		v.ssrc.Store(uint32(tr.SSRC()))
		for {
			p, attrs, err := tr.ReadRTP()
			if err != nil {
				return
			}
			v.mu.Lock()
			v.packets++
			v.seen[p.SequenceNumber]++
			if attrs != nil && attrs.Get(pion.AttributeRtxSsrc) != nil {
				v.viaRTX[p.SequenceNumber]++
			} else {
				v.last = append(v.last, received{seq: p.SequenceNumber, ts: p.Timestamp, marker: p.Marker,
					paddingOnly: p.Padding && len(p.Payload) == 0})
			}
			v.mu.Unlock()
		}
	})
	return v
}

// counts returns copies of the counters and the number of packets received.
func (v *nackViewer) counts() (seen, viaRTX map[uint16]int, packets int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	seen, viaRTX = make(map[uint16]int, len(v.seen)), make(map[uint16]int, len(v.viaRTX))
	for k, n := range v.seen {
		seen[k] = n
	}
	for k, n := range v.viaRTX {
		viaRTX[k] = n
	}
	return seen, viaRTX, v.packets
}

// TestNACKRetransmitsWholeBurst: a viewer that lost a run of packets (as after an outage) NACKs them all in one
// message, and every one of them comes back, on the RTX stream when it was negotiated and with the original
// sequence number otherwise; the session's counters show the NACK and the retransmissions. (Pion's own responder
// resent only the first one or two of such a burst: see retransmitter.) When the viewer's receiver report says it
// loses packets, each retransmission of a burst comes twice, while a NACK of two packets is answered once.
func TestNACKRetransmitsWholeBurst(t *testing.T) {
	for _, c := range []struct {
		rtx, lossy bool
		burst      uint16
	}{{true, false, 30}, {false, false, 30}, {true, true, 20}, {true, true, 2}} {
		t.Run(fmt.Sprintf("rtx=%v,lossy=%v,packets=%d", c.rtx, c.lossy, c.burst), func(t *testing.T) {
			testNACKBurst(t, c.rtx, c.lossy, c.burst)
		})
	}
}

// nackSession connects a nackViewer to a new H.264 manager; keyWanted turns true when the manager asks for a
// keyframe.
func nackSession(t *testing.T, ctx context.Context, rtx bool, keyWanted *atomic.Bool) (*Manager, *nackViewer) {
	t.Helper()
	m, err := New(Config{VideoMime: pion.MimeTypeH264, ListenIP: "127.0.0.1", TCPPort: -1, AllowLoopback: true},
		Deps{KeyFrame: func() { keyWanted.Store(true) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	go func() { _ = m.Run(ctx) }()

	v := newNACKViewer(t, rtx)
	offer, err := v.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := pion.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	ans, err := m.Offer(ctx, OfferRequest{SessionID: "s", SDP: v.pc.LocalDescription().SDP, Viewer: Viewer{ID: "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: ans.SDP}); err != nil {
		t.Fatal(err)
	}
	return m, v
}

// testNACKBurst NACKs burst consecutive packets (at most 20 when lossy: each comes twice, and Pion's receiver drops
// RTX packets beyond 50 waiting to be read).
func testNACKBurst(t *testing.T, rtx, lossy bool, burst uint16) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var keyWanted atomic.Bool
	m, v := nackSession(t, ctx, rtx, &keyWanted)

	// The encoder: a frame of about three packets every 20 ms, a keyframe when asked.
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				key := keyWanted.Swap(false)
				m.WriteVideo(annexB(key, 3000), now.Sub(start), key)
			}
		}
	}()

	// Wait until 60 packets arrived, then NACK burst consecutive ones of them in one message.
	var want []uint16
	if err := waitUntil(ctx, func() bool {
		seen, _, n := v.counts()
		if n < 60 {
			return false
		}
		want = want[:0]
		for seq := range seen {
			if seen[seq+burst-1] > 0 && len(want) == 0 {
				ok := true
				for i := range burst {
					ok = ok && seen[seq+i] == 1
				}
				if ok {
					for i := range burst {
						want = append(want, seq+i)
					}
				}
			}
		}
		return len(want) == int(burst)
	}); err != nil {
		t.Fatalf("no %d consecutive packets received: %v", burst, err)
	}
	ssrc := v.ssrc.Load()
	pkts := []rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(want)}}
	copies := 1
	if lossy {
		// 10 % lost, reported before the NACK in the same compound packet.
		rr := &rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: ssrc, FractionLost: 26}}}
		pkts = append([]rtcp.Packet{rr}, pkts...)
		if burst >= duplicateBurst {
			copies = 2
		}
	}
	if err := v.pc.WriteRTCP(pkts); err != nil {
		t.Fatal(err)
	}
	var missing []uint16
	if err := waitUntil(ctx, func() bool {
		seen, viaRTX, _ := v.counts()
		missing = missing[:0]
		for _, seq := range want {
			if seen[seq] < 1+copies || (rtx && viaRTX[seq] < copies) {
				missing = append(missing, seq)
			}
		}
		return len(missing) == 0
	}); err != nil {
		t.Fatalf("%d of the %d NACKed packets did not come back %d times (rtx %v): %v; stats %+v", len(missing),
			burst, copies, rtx, missing, m.Stats().Feedback)
	}
	fb := m.Stats().Feedback
	if n := uint64(burst); fb.NACKs < 1 || fb.NACKedPackets < n || fb.Retransmitted < n*uint64(copies) {
		t.Errorf("feedback counters %+v, want at least 1 NACK asking for %d packets and %d retransmitted", fb, n,
			n*uint64(copies))
	}
	if copies == 1 {
		// Nothing is sent twice: give a duplicate time to arrive, then count.
		time.Sleep(200 * time.Millisecond)
		seen, _, _ := v.counts()
		for _, seq := range want {
			if seen[seq] != 2 {
				t.Errorf("packet %d arrived %d times, want 2 (sent, resent once)", seq, seen[seq])
			}
		}
	}
	// The counters outlive the session (they are /metrics counters).
	if err := m.CloseSession("s", "test over"); err != nil {
		t.Fatal(err)
	}
	if after := m.Stats().Feedback; after.NACKs < fb.NACKs || after.NACKedPackets < fb.NACKedPackets ||
		after.Retransmitted < fb.Retransmitted {
		t.Errorf("feedback counters went back from %+v to %+v when the session ended", fb, after)
	}
}

// waitUntil polls cond every 20 ms until it is true or ctx ends.
func waitUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// TestTailLossProbe: when no frame follows a video frame, the track sends one padding-only packet with the next
// sequence number and the frame's timestamp, so that a viewer that lost the frame's last packets sees the gap and
// NACKs them instead of waiting for the next frame.
func TestTailLossProbe(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var keyWanted atomic.Bool
	m, v := nackSession(t, ctx, true, &keyWanted)
	start := time.Now()
	// Frames until the viewer has some, then one more, then nothing.
	if err := waitUntil(ctx, func() bool {
		key := keyWanted.Swap(false)
		m.WriteVideo(annexB(key, 3000), time.Since(start), key)
		_, _, n := v.counts()
		return n >= 10
	}); err != nil {
		t.Fatalf("no video: %v", err)
	}
	m.WriteVideo(annexB(false, 3000), time.Since(start), false)
	// The final frame's packets end with its marker; the probe must follow it (earlier probes are possible on a
	// loaded machine, when the loop above paused for longer than the probe delay).
	lastFrame := func() (tail []received) {
		v.mu.Lock()
		defer v.mu.Unlock()
		for i := len(v.last) - 1; i >= 0; i-- {
			if v.last[i].marker {
				return append([]received(nil), v.last[i:]...)
			}
		}
		return nil
	}
	var tail []received
	if err := waitUntil(ctx, func() bool {
		tail = lastFrame()
		return len(tail) >= 2 && tail[len(tail)-1].paddingOnly
	}); err != nil {
		t.Fatalf("no padding packet after the last frame: %v (after its marker: %+v)", err, tail)
	}
	marker, probe := tail[0], tail[1]
	if !probe.paddingOnly || probe.seq != marker.seq+1 || probe.ts != marker.ts || probe.marker {
		t.Errorf("after the frame's last packet %+v came %+v, want a padding-only packet with the next sequence "+
			"number and the frame's timestamp", marker, probe)
	}
	// One probe per pause: wait several probe delays, then count.
	time.Sleep(10 * tailProbeDelay)
	if tail = lastFrame(); len(tail) != 2 {
		t.Errorf("after the last frame came %+v, want one probe", tail[1:])
	}
}
