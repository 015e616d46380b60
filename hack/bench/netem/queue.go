package netem

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Linux nfnetlink_queue constants (include/uapi/linux/netfilter/nfnetlink_queue.h).
const (
	netlinkNetfilter  = 12
	subsysQueue       = 3
	msgPacket         = 0
	msgVerdict        = 1
	msgConfig         = 2
	attrPacketHdr     = 1
	attrVerdictHdr    = 2
	attrCfgCmd        = 1
	attrCfgParams     = 2
	attrCfgQueueLen   = 3
	cfgCmdBind        = 1
	cfgCmdPFUnbind    = 4
	cfgCmdPFBind      = 3
	copyMeta          = 1
	verdictDrop       = 0
	verdictAccept     = 1
	nlmsgHdrLen       = 16
	nfgenHdrLen       = 4
	nlmFRequest       = 0x1
	nlmFAck           = 0x4
	nlmsgError        = 0x2
	receiveBufferSize = 8 << 20
)

// Config is the impairment: every packet is dropped with probability Loss, the others are held for
// Delay ± Jitter (uniformly distributed), which reorders packets as the kernel's netem does with jitter.
type Config struct {
	Queue  uint16
	Loss   float64
	Delay  time.Duration
	Jitter time.Duration
}

// Queue is a bound nfnetlink queue.
type Queue struct {
	cfg      Config
	fd       int
	mu       sync.Mutex // serialises verdict writes
	seq      uint32
	blackout atomic.Bool
	// Counters, for the log.
	Seen, Dropped atomic.Uint64
}

// Open binds queue cfg.Queue for IPv4 and asks for packet metadata only.
func Open(cfg Config) (*Queue, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW, netlinkNetfilter)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, receiveBufferSize)
	q := &Queue{cfg: cfg, fd: fd}
	steps := []struct {
		what  string
		queue uint16
		attrs []byte
	}{
		{"pf unbind", 0, attr(attrCfgCmd, []byte{cfgCmdPFUnbind, 0, 0, syscall.AF_INET})},
		{"pf bind", 0, attr(attrCfgCmd, []byte{cfgCmdPFBind, 0, 0, syscall.AF_INET})},
		{"queue bind", cfg.Queue, attr(attrCfgCmd, []byte{cfgCmdBind, 0, 0, syscall.AF_INET})},
		{"copy mode", cfg.Queue, attr(attrCfgParams, []byte{0, 0, 0, 0, copyMeta})},
		{"queue length", cfg.Queue, attr(attrCfgQueueLen, binary.BigEndian.AppendUint32(nil, 4096))},
	}
	for _, s := range steps {
		if err := q.request(msgConfig, s.queue, s.attrs); err != nil {
			// PF (un)bind is a no-op that some kernels refuse; everything else must succeed.
			if s.what == "pf unbind" || s.what == "pf bind" {
				continue
			}
			syscall.Close(fd)
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return q, nil
}

// Blackout drops every packet while on (a total outage), on top of the configured loss.
func (q *Queue) Blackout(on bool) { q.blackout.Store(on) }

// Run hands out verdicts until ctx is done.
func (q *Queue) Run(ctx context.Context) error {
	defer syscall.Close(q.fd)
	// Closing a netlink socket does not wake a blocked receive: time out every 200 ms to notice ctx.
	tv := syscall.NsecToTimeval(int64(200 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(q.fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("netlink receive timeout: %w", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := syscall.Recvfrom(q.fd, buf, 0)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EINTR) {
				continue // the kernel dropped some: they count as lost, like a full router queue
			}
			return fmt.Errorf("netlink receive: %w", err)
		}
		q.handle(buf[:n])
	}
}

func (q *Queue) handle(b []byte) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		typ := binary.NativeEndian.Uint16(b[4:6])
		if l < nlmsgHdrLen || l > len(b) {
			return
		}
		msg := b[nlmsgHdrLen:l]
		b = b[align(l):]
		if typ != subsysQueue<<8|msgPacket || len(msg) < nfgenHdrLen {
			continue
		}
		id, ok := packetID(msg[nfgenHdrLen:])
		if !ok {
			continue
		}
		q.Seen.Add(1)
		if q.blackout.Load() || rand.Float64() < q.cfg.Loss {
			q.Dropped.Add(1)
			q.verdict(id, verdictDrop)
			continue
		}
		d := q.cfg.Delay
		if q.cfg.Jitter > 0 {
			d += time.Duration(rand.Int64N(int64(2*q.cfg.Jitter))) - q.cfg.Jitter
		}
		if d <= 0 {
			q.verdict(id, verdictAccept)
			continue
		}
		time.AfterFunc(d, func() { q.verdict(id, verdictAccept) })
	}
}

func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs[0:2]))
		typ := binary.NativeEndian.Uint16(attrs[2:4]) & 0x3fff
		if l < 4 || l > len(attrs) {
			return 0, false
		}
		if typ == attrPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:8]), true
		}
		attrs = attrs[align(l):]
	}
	return 0, false
}

func (q *Queue) verdict(id uint32, v uint32) {
	hdr := binary.BigEndian.AppendUint32(nil, v)
	hdr = binary.BigEndian.AppendUint32(hdr, id)
	msg := q.message(msgVerdict, q.cfg.Queue, 0, attr(attrVerdictHdr, hdr))
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := syscall.Sendto(q.fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		slog.Debug("verdict", "id", id, "err", err)
	}
}

// request sends a config message and waits for the kernel's acknowledgement.
func (q *Queue) request(typ uint16, queue uint16, attrs []byte) error {
	msg := q.message(typ, queue, nlmFAck, attrs)
	if err := syscall.Sendto(q.fd, msg, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := syscall.Recvfrom(q.fd, buf, 0)
	if err != nil {
		return fmt.Errorf("netlink ack: %w", err)
	}
	if n >= nlmsgHdrLen+4 && binary.NativeEndian.Uint16(buf[4:6]) == nlmsgError {
		if code := int32(binary.NativeEndian.Uint32(buf[nlmsgHdrLen : nlmsgHdrLen+4])); code != 0 {
			return fmt.Errorf("%w: %v", ErrNetlink, syscall.Errno(-code))
		}
	}
	return nil
}

func (q *Queue) message(typ uint16, queue uint16, flags uint16, attrs []byte) []byte {
	q.mu.Lock()
	q.seq++
	seq := q.seq
	q.mu.Unlock()
	total := nlmsgHdrLen + nfgenHdrLen + len(attrs)
	b := make([]byte, 0, total)
	b = binary.NativeEndian.AppendUint32(b, uint32(total))
	b = binary.NativeEndian.AppendUint16(b, subsysQueue<<8|typ)
	b = binary.NativeEndian.AppendUint16(b, nlmFRequest|flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, syscall.AF_UNSPEC, 0)
	b = binary.BigEndian.AppendUint16(b, queue)
	return append(b, attrs...)
}

func attr(typ uint16, data []byte) []byte {
	l := 4 + len(data)
	b := make([]byte, 0, align(l))
	b = binary.NativeEndian.AppendUint16(b, uint16(l))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b) < align(l) {
		b = append(b, 0)
	}
	return b
}

func align(n int) int { return (n + 3) &^ 3 }
