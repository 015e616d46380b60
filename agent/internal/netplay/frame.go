package netplay

import (
	"encoding/binary"
	"fmt"
)

// MAC is an Ethernet address.
type MAC [6]byte

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// group reports whether m is a broadcast or multicast address (the I/G bit).
func (m MAC) group() bool { return m[0]&1 != 0 }

// Ethernet frame limits, without the frame check sequence (QEMU passes frames without it).
const (
	headerLen   = 14   // destination, source, EtherType
	maxFrameLen = 1518 // 1500 bytes of payload, header and one 802.1Q tag
)

// parse returns a frame's destination and source, or errJunk.
func parse(frame []byte) (dst, src MAC, err error) {
	if len(frame) < headerLen || len(frame) > maxFrameLen {
		return dst, src, fmt.Errorf("%w: %d bytes", errJunk, len(frame))
	}
	copy(dst[:], frame[0:6])
	copy(src[:], frame[6:12])
	if src.group() || src == (MAC{}) {
		return dst, src, fmt.Errorf("%w: source %s", errJunk, src)
	}
	return dst, src, nil
}

// The peer datagram header: "LNP", version, the sender's node id.
const (
	wireVersion   = 1
	wireHeaderLen = 12
)

func encodeWire(buf []byte, id uint64, frame []byte) []byte {
	buf = append(buf[:0], 'L', 'N', 'P', wireVersion)
	buf = binary.BigEndian.AppendUint64(buf, id)
	return append(buf, frame...)
}

// decodeWire returns the sender's id and the frame, or errJunk.
func decodeWire(p []byte) (id uint64, frame []byte, err error) {
	if len(p) < wireHeaderLen || p[0] != 'L' || p[1] != 'N' || p[2] != 'P' || p[3] != wireVersion {
		return 0, nil, fmt.Errorf("%w: not a netplay datagram", errJunk)
	}
	return binary.BigEndian.Uint64(p[4:12]), p[wireHeaderLen:], nil
}
