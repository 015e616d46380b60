package netplay

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one agent's switch. New fills in the defaults.
type Config struct {
	// Socket is the unix datagram socket the node binds for QEMU's NIC (QEMU sends its frames here). Required.
	Socket string
	// VMSocket is QEMU's own socket, where the node sends the guest's frames (-netdev dgram local.path). Required.
	VMSocket string
	// Listen is the UDP address for peer traffic ("host:port"; port 0 picks one). Empty: no peers, the guest's
	// segment is this node alone.
	Listen string
	// Peers are the other agents, "host:port" each; a host may resolve to many addresses.
	Peers []string
	// ResolveEvery is how often peer names are resolved again (default 10 s).
	ResolveEvery time.Duration
	// QueueLen bounds every port's queue of frames waiting to be sent (default 256).
	QueueLen int
	// MaxMACs bounds the learning table (default 1024); MACAge is how long an entry lives unseen (default 5 min).
	MaxMACs int
	MACAge  time.Duration
	// Resolver looks peer hosts up (default net.DefaultResolver).
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
	// Logger gets the node's events; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Socket == "" || c.VMSocket == "" {
		return fmt.Errorf("%w: Socket and VMSocket are required", ErrConfig)
	}
	for _, p := range c.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("%w: peer %q: %w", ErrConfig, p, err)
		}
	}
	if len(c.Peers) > 0 && c.Listen == "" {
		return fmt.Errorf("%w: peers need a listen address", ErrConfig)
	}
	if c.ResolveEvery == 0 {
		c.ResolveEvery = 10 * time.Second
	}
	if c.QueueLen == 0 {
		c.QueueLen = 256
	}
	if c.MaxMACs == 0 {
		c.MaxMACs = 1024
	}
	if c.MACAge == 0 {
		c.MACAge = 5 * time.Minute
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Stats are the node's counters since it started.
type Stats struct {
	// FromGuest and ToGuest count frames the local guest sent and received; FromPeers and ToPeers count
	// datagrams received from and sent to peers (a flooded frame counts once per peer).
	FromGuest, ToGuest, FromPeers, ToPeers uint64
	// Junk counts dropped frames and datagrams that were malformed or came from a non-peer or from this node.
	Junk uint64
	// Filtered counts frames whose destination lies where they came from (or on another peer).
	Filtered uint64
	// QueueFull counts frames dropped because a port's queue was full; SendErrors those a socket refused
	// (e.g. QEMU not running).
	QueueFull, SendErrors uint64
	// Peers is the number of peer addresses; MACs the number of learned MACs.
	Peers, MACs int
}

// localPort is the guest's port id in the table; peers get ids from 1.
const localPort = 0

// Node is one agent's switch: the guest's NIC and the peers.
type Node struct {
	cfg   Config
	log   *slog.Logger
	id    uint64
	table *table
	unix  *net.UnixConn
	vm    *net.UnixAddr
	udp   *net.UDPConn // nil without Listen
	local *queue

	mu      sync.Mutex
	peers   map[netip.AddrPort]*peer
	nextID  int
	selves  map[netip.AddrPort]bool // peer addresses that turned out to be this node
	resolve chan struct{}           // asks the resolver loop for an early round

	fromGuest, toGuest, fromPeers, toPeers, junk, filtered, queueFull, sendErrors atomic.Uint64
}

type peer struct {
	id   int
	addr netip.AddrPort
	q    *queue
}

// queue is a port's bounded queue of frames and the goroutine that sends them.
type queue struct {
	c    chan []byte
	done chan struct{}
}

// New binds the node's sockets. Run moves frames.
func New(cfg Config) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, fmt.Errorf("netplay: node id: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("netplay", cfg.Listen), id: binary.BigEndian.Uint64(idb[:]),
		table: newTable(cfg.MaxMACs, cfg.MACAge), vm: &net.UnixAddr{Name: cfg.VMSocket, Net: "unixgram"},
		peers: map[netip.AddrPort]*peer{}, nextID: 1, selves: map[netip.AddrPort]bool{},
		resolve: make(chan struct{}, 1)}
	_ = os.Remove(cfg.Socket)
	u, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: cfg.Socket, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("netplay: guest socket: %w", err)
	}
	n.unix = u
	if cfg.Listen != "" {
		a, err := net.ResolveUDPAddr("udp", cfg.Listen)
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("%w: listen %q: %w", ErrConfig, cfg.Listen, err)
		}
		if n.udp, err = net.ListenUDP("udp", a); err != nil {
			u.Close()
			return nil, fmt.Errorf("netplay: listen: %w", err)
		}
	}
	n.table.addPort(localPort, kindLocal)
	return n, nil
}

// Addr is the UDP address peers send to (nil without Listen).
func (n *Node) Addr() *net.UDPAddr {
	if n.udp == nil {
		return nil
	}
	return n.udp.LocalAddr().(*net.UDPAddr)
}

// SetPeers replaces the peer list; the next resolution round (started at once) applies it.
func (n *Node) SetPeers(peers []string) error {
	if n.udp == nil && len(peers) > 0 {
		return fmt.Errorf("%w: peers need a listen address", ErrConfig)
	}
	for _, p := range peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("%w: peer %q: %w", ErrConfig, p, err)
		}
	}
	n.mu.Lock()
	n.cfg.Peers = slices.Clone(peers)
	n.mu.Unlock()
	select {
	case n.resolve <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	peers := len(n.peers)
	n.mu.Unlock()
	return Stats{FromGuest: n.fromGuest.Load(), ToGuest: n.toGuest.Load(), FromPeers: n.fromPeers.Load(),
		ToPeers: n.toPeers.Load(), Junk: n.junk.Load(), Filtered: n.filtered.Load(), QueueFull: n.queueFull.Load(),
		SendErrors: n.sendErrors.Load(), Peers: peers, MACs: n.table.size()}
}

// Run moves frames until ctx is done, then closes the sockets.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.local = n.startQueue(func(f []byte) error {
		// A unix datagram send waits while QEMU's receive queue is full (a paused VM): never for long.
		_ = n.unix.SetWriteDeadline(time.Now().Add(time.Second))
		_, err := n.unix.WriteToUnix(f, n.vm)
		if err == nil {
			n.toGuest.Add(1)
		}
		return err
	})
	var wg sync.WaitGroup
	wg.Go(func() { n.readGuest() })
	if n.udp != nil {
		wg.Go(func() { n.readPeers() })
		wg.Go(func() { n.resolveLoop(ctx) })
	}
	<-ctx.Done()
	n.unix.Close()
	if n.udp != nil {
		n.udp.Close()
	}
	wg.Wait()
	n.stopQueue(n.local)
	n.mu.Lock()
	for _, p := range n.peers {
		n.stopQueue(p.q)
	}
	n.mu.Unlock()
	_ = os.Remove(n.cfg.Socket)
	return nil
}

func (n *Node) startQueue(send func([]byte) error) *queue {
	q := &queue{c: make(chan []byte, n.cfg.QueueLen), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for f := range q.c {
			if err := send(f); err != nil {
				n.sendErrors.Add(1)
			}
		}
	}()
	return q
}

func (n *Node) stopQueue(q *queue) {
	close(q.c)
	<-q.done
}

// enqueue hands a copy of frame to q, or drops it when q is full.
func (n *Node) enqueue(q *queue, frame []byte) {
	select {
	case q.c <- frame:
	default:
		n.queueFull.Add(1)
	}
}

// dispatch forwards one frame that arrived on port from.
func (n *Node) dispatch(from int, frame []byte, dst []int) []int {
	dst, v := n.table.forward(from, frame, dst[:0])
	switch v {
	case dropJunk:
		n.junk.Add(1)
		return dst
	case dropFiltered:
		n.filtered.Add(1)
		return dst
	}
	if len(dst) == 0 {
		return dst
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range dst {
		if p == localPort {
			n.enqueue(n.local, frame)
			continue
		}
		for _, pr := range n.peers {
			if pr.id == p {
				n.enqueue(pr.q, encodeWire(make([]byte, 0, wireHeaderLen+len(frame)), n.id, frame))
			}
		}
	}
	return dst
}

// receive calls read with a buffer until the socket is closed, pausing briefly after any other error.
func (n *Node) receive(what string, read func(buf []byte) error) {
	buf := make([]byte, 64<<10)
	for {
		err := read(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			n.log.Warn("netplay: reading "+what, "err", err)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func (n *Node) readGuest() {
	var dst []int
	n.receive("the guest's frames", func(buf []byte) error {
		k, _, err := n.unix.ReadFromUnix(buf)
		if err != nil {
			return err
		}
		n.fromGuest.Add(1)
		dst = n.dispatch(localPort, append([]byte(nil), buf[:k]...), dst)
		return nil
	})
}

func (n *Node) readPeers() {
	var dst []int
	n.receive("from peers", func(buf []byte) error {
		k, from, err := n.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return err
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		id, frame, err := decodeWire(buf[:k])
		if err != nil {
			n.junk.Add(1)
			return nil
		}
		if id == n.id {
			n.junk.Add(1)
			n.markSelf(from)
			return nil
		}
		n.mu.Lock()
		p := n.peers[from]
		n.mu.Unlock()
		if p == nil {
			n.junk.Add(1)
			select { // perhaps a new pod the last lookup did not know yet
			case n.resolve <- struct{}{}:
			default:
			}
			return nil
		}
		n.fromPeers.Add(1)
		dst = n.dispatch(p.id, append([]byte(nil), frame...), dst)
		return nil
	})
}

// network is the address family peers are looked up in: the listen address's.
func (n *Node) network() string {
	if a := n.Addr(); a != nil && a.IP.To4() == nil && !a.IP.IsUnspecified() {
		return "ip6"
	}
	return "ip4"
}

// markSelf stops sending to an address that turned out to be this node.
func (n *Node) markSelf(a netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.selves[a] {
		n.log.Info("netplay: a peer address is this node; not sending to it", "addr", a)
	}
	n.selves[a] = true
	if p := n.peers[a]; p != nil {
		n.removePeer(p)
	}
}

// removePeer drops a peer. Called with mu held.
func (n *Node) removePeer(p *peer) {
	delete(n.peers, p.addr)
	n.table.removePort(p.id)
	close(p.q.c) // its sender goroutine ends after the queued frames
}

func (n *Node) resolveLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.ResolveEvery)
	defer t.Stop()
	n.resolvePeers(ctx)
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.resolve:
		}
		if wait := time.Second - time.Since(last); wait > 0 { // at most one round a second
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		n.resolvePeers(ctx)
		last = time.Now()
	}
}

// resolvePeers looks every peer host up and makes the peer set match. A host that fails to resolve keeps its
// previous addresses.
func (n *Node) resolvePeers(ctx context.Context) {
	want := map[netip.AddrPort]bool{}
	failed := map[string]bool{}
	n.mu.Lock()
	peers := n.cfg.Peers
	n.mu.Unlock()
	for _, hp := range peers {
		host, port, _ := net.SplitHostPort(hp)
		pn, err := net.LookupPort("udp", port)
		if err != nil {
			n.log.Warn("netplay: peer port", "peer", hp, "err", err)
			continue
		}
		var addrs []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = []netip.Addr{a}
		} else {
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			addrs, err = n.cfg.Resolver.LookupNetIP(lctx, n.network(), host)
			cancel()
			if err != nil {
				n.log.Debug("netplay: resolving peer", "peer", hp, "err", err)
				failed[host] = true
				continue
			}
		}
		for _, a := range addrs {
			want[netip.AddrPortFrom(a.Unmap(), uint16(pn))] = true
		}
	}
	self := n.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	self = netip.AddrPortFrom(self.Addr().Unmap(), self.Port())
	n.mu.Lock()
	defer n.mu.Unlock()
	for a := range want {
		if n.selves[a] || a == self || n.peers[a] != nil {
			continue
		}
		p := &peer{id: n.nextID, addr: a}
		n.nextID++
		ua := net.UDPAddrFromAddrPort(a)
		p.q = n.startQueue(func(f []byte) error {
			_, err := n.udp.WriteToUDP(f, ua)
			if err == nil {
				n.toPeers.Add(1)
			}
			return err
		})
		n.peers[a] = p
		n.table.addPort(p.id, kindPeer)
		n.log.Info("netplay: peer added", "addr", a)
	}
	if len(failed) > 0 {
		return // keep everything while some name does not resolve (DNS hiccup)
	}
	for a, p := range n.peers {
		if !want[a] {
			n.log.Info("netplay: peer gone", "addr", a)
			n.removePeer(p)
		}
	}
}
