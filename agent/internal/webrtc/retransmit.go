package webrtc

import (
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Feedback are a session's loss-recovery counters: what the viewer asked for and what the agent resent.
type Feedback struct {
	// PLIs and FIRs are keyframe requests received.
	PLIs, FIRs uint64
	// NACKs is the number of NACK messages received; NACKedPackets the packets they asked for.
	NACKs, NACKedPackets uint64
	// Retransmitted is the number of packets sent again, every copy counted (on the RTX stream when negotiated);
	// Unavailable, the NACKed packets that were no longer buffered or over the retransmission budget; WriteErrors,
	// the retransmissions the transport refused.
	Retransmitted, Unavailable, WriteErrors uint64
}

func (f *Feedback) add(o Feedback) {
	f.PLIs += o.PLIs
	f.FIRs += o.FIRs
	f.NACKs += o.NACKs
	f.NACKedPackets += o.NACKedPackets
	f.Retransmitted += o.Retransmitted
	f.Unavailable += o.Unavailable
	f.WriteErrors += o.WriteErrors
}

// Retransmission settings.
const (
	// resendBufferSize is the number of packets kept per video stream for retransmission (a power of two): over
	// a second at the default maximum bitrate, several keyframes' worth.
	resendBufferSize = 1024
	// resendMaxPayload bounds a buffered payload (the track packetizes to rtpMTU).
	resendMaxPayload = 1460
	// resendBudgetWindow is how much of the maximum bitrate retransmissions may spend at once: a burst after an
	// outage goes out whole instead of being spread over several NACK rounds.
	resendBudgetWindow = 500 * time.Millisecond
	// duplicateLoss is the reported loss fraction from which the retransmissions of a burst of at least
	// duplicateBurst NACKed packets are sent twice.
	duplicateLoss  = 0.01
	duplicateBurst = 3
)

// retransmitter is an interceptor that answers the viewer's NACKs at once from the packets it sent last, and
// counts the session's loss-recovery feedback.
//
// It replaces Pion's NACK responder, which limits retransmissions to the congestion controller's target bitrate
// measured over the few milliseconds since the first retransmission of a burst: after an outage (when the target
// has just been cut) it resent one or two of the packets a NACK asked for, and the rest trickled out one NACK
// round (about 100 ms in Chromium) at a time. Here a NACK is answered whole, within a budget of half a second of
// the maximum bitrate, and a packet is not resent twice within most of a round trip (the viewer asks again only
// after a round trip).
//
// It sits outside the TWCC header-extension interceptor, so every retransmission gets its own transport-wide
// sequence number and counts for the congestion controller.
type retransmitter struct {
	interceptor.NoOp
	maxBps int
	pacer  *directPacer

	mu      sync.Mutex
	streams map[uint32]*sentStream
	rtt     time.Duration // smoothed, from receiver reports; 0 until the first
	loss    float64       // fraction lost in the receiver reports: the latest, or more while an earlier one decays
	batch   []*sentPacket
	tokens  float64 // retransmission budget in bytes
	refill  time.Time

	plis, firs, nacks, nacked, resent, unavailable, failed atomic.Uint64
}

// retransmitFactory builds a session's retransmitter and hands it to onNew.
type retransmitFactory struct {
	maxBps int
	pacer  *directPacer // told the RTX SSRCs
	onNew  func(*retransmitter)
}

func (f *retransmitFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	r := &retransmitter{maxBps: f.maxBps, pacer: f.pacer, streams: map[uint32]*sentStream{}}
	r.tokens = r.budget()
	if f.onNew != nil {
		f.onNew(r)
	}
	return r, nil
}

// sentStream is one video stream's ring of sent packets.
type sentStream struct {
	writer  interceptor.RTPWriter
	rtxSSRC uint32
	rtxPT   uint8
	rtxSeq  uint16
	ring    [resendBufferSize]sentPacket
	scratch []byte
	exts    []rtp.Extension
}

// sentPacket is a copy of one sent packet.
type sentPacket struct {
	valid    bool
	hdr      rtp.Header
	exts     []rtp.Extension
	payload  []byte
	lastSent time.Time
}

func (r *retransmitter) snapshot() Feedback {
	return Feedback{PLIs: r.plis.Load(), FIRs: r.firs.Load(), NACKs: r.nacks.Load(), NACKedPackets: r.nacked.Load(),
		Retransmitted: r.resent.Load(), Unavailable: r.unavailable.Load(), WriteErrors: r.failed.Load()}
}

// budget is the most the retransmissions may spend at once, in bytes.
func (r *retransmitter) budget() float64 { return float64(r.maxBps) / 8 * resendBudgetWindow.Seconds() }

// supportsNACK reports whether the stream negotiated generic NACK.
func supportsNACK(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}

// BindLocalStream keeps a copy of every packet of a stream that negotiated NACK.
func (r *retransmitter) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !supportsNACK(info) {
		return writer
	}
	s := &sentStream{writer: writer, rtxSSRC: info.SSRCRetransmission, rtxPT: info.PayloadTypeRetransmission,
		rtxSeq: uint16(rand.Uint32()), scratch: make([]byte, 0, resendMaxPayload+2)}
	if s.rtxSSRC != 0 && r.pacer != nil {
		r.pacer.alias(s.rtxSSRC, info.SSRC)
	}
	r.mu.Lock()
	r.streams[info.SSRC] = s
	r.mu.Unlock()
	ssrc := info.SSRC
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC == ssrc && len(payload) <= resendMaxPayload {
			r.mu.Lock()
			p := &s.ring[h.SequenceNumber%resendBufferSize]
			p.store(h, payload)
			r.mu.Unlock()
		}
		return writer.Write(h, payload, a)
	})
}

// UnbindLocalStream forgets the stream's packets.
func (r *retransmitter) UnbindLocalStream(info *interceptor.StreamInfo) {
	r.mu.Lock()
	delete(r.streams, info.SSRC)
	r.mu.Unlock()
}

// store copies a packet. The extensions' payloads are kept by reference: the track's are constants, and the
// interceptors that add their own (TWCC) come after this one.
func (p *sentPacket) store(h *rtp.Header, payload []byte) {
	p.valid = true
	p.hdr = *h
	p.exts = append(p.exts[:0], h.Extensions...)
	p.hdr.Extensions = nil
	p.payload = append(p.payload[:0], payload...)
	p.lastSent = time.Time{}
}

// BindRTCPReader answers NACKs and counts the viewer's feedback (sharing the parse with the other interceptors).
func (r *retransmitter) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		if attr == nil {
			attr = interceptor.Attributes{}
		}
		pkts, perr := attr.GetRTCPPackets(b[:n])
		if perr != nil {
			return n, attr, err
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication:
				r.plis.Add(1)
			case *rtcp.FullIntraRequest:
				r.firs.Add(1)
			case *rtcp.TransportLayerNack:
				r.nacks.Add(1)
				r.resend(p)
			case *rtcp.ReceiverReport:
				r.updateReports(p.Reports)
			}
		}
		return n, attr, err
	})
}

// updateReports keeps the round-trip time (smoothed) and the loss fraction of the reports about our streams.
func (r *retransmitter) updateReports(reports []rtcp.ReceptionReport) {
	now := ntpMiddle(time.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rep := range reports {
		if r.streams[rep.SSRC] == nil {
			continue
		}
		// Up at once, down slowly: a report interval without loss (a second of a few dozen packets at 5 % loss
		// often has none) must not stop the duplicates just before an outage.
		loss := float64(rep.FractionLost) / 256
		r.loss = max(loss, r.loss*7/8+loss/8)
		if rep.LastSenderReport == 0 {
			continue
		}
		v := int64(now) - int64(rep.LastSenderReport) - int64(rep.Delay)
		if v < 0 || v >= 65536*10 {
			continue
		}
		rtt := time.Duration(v) * time.Second / 65536
		if r.rtt == 0 {
			r.rtt = rtt
		} else {
			r.rtt += (rtt - r.rtt) / 8
		}
	}
}

// resendGuard is how long after sending a packet a NACK for it is ignored: most of a round trip (a viewer asks
// again only after one), so a duplicate NACK does not double the retransmissions.
func (r *retransmitter) resendGuard() time.Duration {
	if r.rtt == 0 {
		return 20 * time.Millisecond
	}
	return min(max(r.rtt*3/4, 5*time.Millisecond), 250*time.Millisecond)
}

// resend writes every packet the NACK asks for that is still buffered, in order, at once. A burst (duplicateBurst
// packets or more: an outage, a lost run of a keyframe) is written a second time while the viewer reports
// noticeable loss (duplicateLoss): a retransmission is lost as often as any packet, the chance that one of n is
// lost grows with n, and each one lost costs the viewer another NACK round trip before it can show a picture.
// Shorter NACKs are not doubled: under jitter most of them ask for packets that were only reordered.
func (r *retransmitter) resend(nack *rtcp.TransportLayerNack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.streams[nack.MediaSSRC]
	copies, asked := 1, 0
	for _, pair := range nack.Nacks {
		asked += 1 + bits.OnesCount16(uint16(pair.LostPackets))
	}
	if r.loss >= duplicateLoss && asked >= duplicateBurst {
		copies = 2
	}
	batch := r.batch[:0]
	now := time.Now()
	for _, pair := range nack.Nacks {
		seqs := pair.PacketList()
		r.nacked.Add(uint64(len(seqs)))
		if s == nil {
			r.unavailable.Add(uint64(len(seqs)))
			continue
		}
		for _, seq := range seqs {
			switch p := r.take(s, seq, copies, now); {
			case p == nil:
				r.unavailable.Add(1)
			case p != skip:
				batch = append(batch, p)
			}
		}
	}
	for range copies {
		for _, p := range batch {
			r.write(s, p)
		}
	}
	clear(batch)
	r.batch = batch[:0]
}

// skip is what take returns for a packet resent too recently to send again.
var skip = &sentPacket{}

// take returns the buffered packet seq to resend copies times (under r.mu), skip when it was just resent (this
// NACK crossed the retransmission), nil when it is no longer buffered or over the budget.
func (r *retransmitter) take(s *sentStream, seq uint16, copies int, now time.Time) *sentPacket {
	p := &s.ring[seq%resendBufferSize]
	if !p.valid || p.hdr.SequenceNumber != seq {
		return nil
	}
	if !p.lastSent.IsZero() && now.Sub(p.lastSent) < r.resendGuard() {
		return skip
	}
	size := float64(copies * (p.hdr.MarshalSize() + len(p.payload)))
	if r.refill.IsZero() {
		r.refill = now
	}
	r.tokens = min(r.budget(), r.tokens+now.Sub(r.refill).Seconds()*float64(r.maxBps)/8)
	r.refill = now
	if r.tokens < size {
		return nil
	}
	r.tokens -= size
	p.lastSent = now
	return p
}

// write sends one copy of p (under r.mu): on the RTX stream when negotiated, else as it was.
func (r *retransmitter) write(s *sentStream, p *sentPacket) {
	h := p.hdr
	h.Extensions = append(s.exts[:0], p.exts...)
	payload := p.payload
	if s.rtxSSRC != 0 && s.rtxPT != 0 {
		// RFC 4588: the RTX stream has its own sequence numbers; the payload starts with the original one.
		seq := p.hdr.SequenceNumber
		h.SSRC, h.PayloadType, h.SequenceNumber = s.rtxSSRC, s.rtxPT, s.rtxSeq
		s.rtxSeq++
		h.Padding, h.PaddingSize = false, 0
		s.scratch = append(append(s.scratch[:0], byte(seq>>8), byte(seq)), p.payload...)
		payload = s.scratch
	}
	if _, err := s.writer.Write(&h, payload, interceptor.Attributes{}); err != nil {
		r.failed.Add(1)
		return
	}
	s.exts = h.Extensions[:0]
	r.resent.Add(1)
}
