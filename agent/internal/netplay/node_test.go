package netplay

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// vm stands in for QEMU's NIC backend: a unix datagram socket at a node's VMSocket.
type vm struct {
	conn *net.UnixConn
	node *net.UnixAddr
}

func (v *vm) send(t *testing.T, f []byte) {
	t.Helper()
	if _, err := v.conn.WriteToUnix(f, v.node); err != nil {
		t.Fatal(err)
	}
}

// recv returns the frames that arrive within d.
func (v *vm) recv(d time.Duration) [][]byte {
	var got [][]byte
	buf := make([]byte, 2048)
	deadline := time.Now().Add(d)
	for {
		_ = v.conn.SetReadDeadline(deadline)
		n, _, err := v.conn.ReadFromUnix(buf)
		if err != nil {
			return got
		}
		got = append(got, append([]byte(nil), buf[:n]...))
	}
}

// mesh starts n nodes on loopback, each peering with all (itself included, as a Kubernetes Service name
// resolving to every pod does), and a fake VM on each.
func mesh(t *testing.T, n int) ([]*Node, []*vm) {
	t.Helper()
	dir := t.TempDir()
	var nodes []*Node
	for i := range n {
		nd, err := New(Config{Socket: filepath.Join(dir, fmt.Sprintf("sw%d.sock", i)),
			VMSocket: filepath.Join(dir, fmt.Sprintf("vm%d.sock", i)), Listen: "127.0.0.1:0",
			Peers: []string{"127.0.0.1:1"}, ResolveEvery: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
	}
	var peers []string
	for _, nd := range nodes {
		peers = append(peers, nd.Addr().String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, n)
	var vms []*vm
	for i, nd := range nodes {
		if err := nd.SetPeers(peers); err != nil {
			t.Fatal(err)
		}
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: nd.cfg.VMSocket, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		vms = append(vms, &vm{conn: c, node: &net.UnixAddr{Name: nodes[i].cfg.Socket, Net: "unixgram"}})
		go func() { _ = nd.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range n {
			<-done
		}
		for _, v := range vms {
			v.conn.Close()
		}
	})
	// Wait until every node knows the others (its own address in the list is left out).
	deadline := time.Now().Add(10 * time.Second)
	for _, nd := range nodes {
		for nd.Stats().Peers != n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("mesh not formed: %+v", nd.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nodes, vms
}

func TestNodeMesh(t *testing.T) {
	nodes, vms := mesh(t, 3)
	a, b, c := mac(0xa), mac(0xb), mac(0xc)

	// A's broadcast reaches B and C once each, and not A itself.
	hello := frame(bcast, a, 46)
	hello[20] = 1
	vms[0].send(t, hello)
	for i, v := range vms {
		got := v.recv(500 * time.Millisecond)
		want := 1
		if i == 0 {
			want = 0
		}
		if len(got) != want || (want == 1 && !slices.Equal(got[0], hello)) {
			t.Fatalf("vm %d got %d frames after A's broadcast, want %d", i, len(got), want)
		}
	}
	// B answers A by unicast: only A gets it; C sends a broadcast so its MAC is known everywhere.
	vms[1].send(t, frame(a, b, 46))
	vms[2].send(t, frame(bcast, c, 46))
	if got := vms[0].recv(500 * time.Millisecond); len(got) != 2 {
		t.Fatalf("A got %d frames, want B's unicast and C's broadcast", len(got))
	}
	if got := vms[2].recv(300 * time.Millisecond); len(got) != 0 {
		t.Fatalf("C got %d frames of B's unicast to A", len(got))
	}
	if got := vms[1].recv(300 * time.Millisecond); len(got) != 1 {
		t.Fatalf("B got %d frames, want C's broadcast", len(got))
	}
	// Junk from the guest and a stranger's datagram are dropped and counted.
	junk0 := nodes[0].Stats().Junk
	vms[0].send(t, []byte{1, 2, 3})
	stranger, err := net.DialUDP("udp", nil, nodes[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if _, err := stranger.Write([]byte("hello, is this a game?")); err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.Write(encodeWire(nil, 7, frame(bcast, mac(0x66), 46))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for nodes[0].Stats().Junk < junk0+3 {
		if time.Now().After(deadline) {
			t.Fatalf("junk not counted: %+v", nodes[0].Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, v := range vms {
		if got := v.recv(200 * time.Millisecond); len(got) != 0 {
			t.Fatalf("vm %d got %d frames of junk", i, len(got))
		}
	}
	st := nodes[0].Stats()
	if st.FromGuest < 2 || st.ToPeers < 2 || st.ToGuest < 2 || st.MACs < 3 {
		t.Fatalf("counters: %+v", st)
	}
}

func TestNodeSelfIsNotAPeer(t *testing.T) {
	nodes, _ := mesh(t, 2)
	// A datagram carrying node 0's own id (its address reached under another name, e.g. a Service address
	// that leads back to this pod) is dropped and that address is never sent to again.
	other, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	junk := nodes[0].Stats().Junk
	if _, err := other.WriteToUDP(encodeWire(nil, nodes[0].id, frame(bcast, mac(1), 46)), nodes[0].Addr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		nodes[0].mu.Lock()
		marked := nodes[0].selves[other.LocalAddr().(*net.UDPAddr).AddrPort()]
		nodes[0].mu.Unlock()
		if marked && nodes[0].Stats().Junk == junk+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("own datagram not recognised: %+v", nodes[0].Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNodeQueueBounded(t *testing.T) {
	dir := t.TempDir()
	nd, err := New(Config{Socket: filepath.Join(dir, "sw.sock"), VMSocket: filepath.Join(dir, "vm.sock"),
		Listen: "127.0.0.1:0", QueueLen: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Before Run nobody drains the guest's queue: the fifth frame onwards is dropped, nothing blocks.
	nd.local = &queue{c: make(chan []byte, 4), done: make(chan struct{})}
	for range 10 {
		nd.enqueue(nd.local, frame(bcast, mac(1), 46))
	}
	if st := nd.Stats(); st.QueueFull != 6 || len(nd.local.c) != 4 {
		t.Fatalf("queue: %d queued, %+v", len(nd.local.c), st)
	}
	nd.unix.Close()
	nd.udp.Close()
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]Config{
		"no sockets":        {Listen: "127.0.0.1:0"},
		"peers, no listen":  {Socket: "a", VMSocket: "b", Peers: []string{"x:1"}},
		"peer without port": {Socket: "a", VMSocket: "b", Listen: "127.0.0.1:0", Peers: []string{"x"}},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestNodeStuckGuest: a guest that reads nothing (a paused VM) costs dropped frames, never a stuck switch.
func TestNodeStuckGuest(t *testing.T) {
	nodes, vms := mesh(t, 2)
	deadline := time.Now().Add(20 * time.Second)
	for st := nodes[1].Stats(); st.QueueFull+st.SendErrors == 0; st = nodes[1].Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("no drops towards a guest that reads nothing: %+v", st)
		}
		for range 200 {
			vms[0].send(t, frame(bcast, mac(1), 46))
		}
		time.Sleep(10 * time.Millisecond)
	}
	vms[1].recv(2 * time.Second) // the guest wakes up and reads its backlog
	marker := frame(bcast, mac(2), 46)
	marker[20] = 0xee
	vms[0].send(t, marker)
	got := vms[1].recv(3 * time.Second)
	if !slices.ContainsFunc(got, func(f []byte) bool { return slices.Equal(f, marker) }) {
		t.Fatalf("after the stall the guest did not get new frames (%d received): %+v", len(got), nodes[1].Stats())
	}
}
