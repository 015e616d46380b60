package netplay

import (
	"slices"
	"testing"
	"time"
)

func mac(b byte) MAC { return MAC{0x52, 0x54, 0, 0, 0, b} }

var bcast = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func frame(dst, src MAC, payload int) []byte {
	f := append(append(append([]byte{}, dst[:]...), src[:]...), 0x88, 0xb5)
	return append(f, make([]byte, payload)...)
}

// newTestTable has the local port 0 and peers 1, 2, 3.
func newTestTable() *table {
	t := newTable(4, time.Minute)
	t.addPort(0, kindLocal)
	for p := 1; p <= 3; p++ {
		t.addPort(p, kindPeer)
	}
	return t
}

func TestForwardFloodsAndLearns(t *testing.T) {
	tb := newTestTable()
	// Broadcast from the guest reaches every peer.
	dst, v := tb.forward(0, frame(bcast, mac(1), 46), nil)
	slices.Sort(dst)
	if v != forwarded || !slices.Equal(dst, []int{1, 2, 3}) {
		t.Fatalf("guest broadcast: %v %v, want all peers", dst, v)
	}
	// Unknown unicast from the guest is flooded to the peers too.
	dst, _ = tb.forward(0, frame(mac(9), mac(1), 46), nil)
	if slices.Sort(dst); !slices.Equal(dst, []int{1, 2, 3}) {
		t.Fatalf("unknown unicast: %v", dst)
	}
	// A broadcast from peer 2 goes to the guest only, never to another peer.
	dst, _ = tb.forward(2, frame(bcast, mac(2), 46), nil)
	if !slices.Equal(dst, []int{0}) {
		t.Fatalf("peer broadcast: %v, want only the guest", dst)
	}
	// Now mac(2) is known on peer 2: the guest's unicast to it goes there alone.
	dst, _ = tb.forward(0, frame(mac(2), mac(1), 46), nil)
	if !slices.Equal(dst, []int{2}) {
		t.Fatalf("known unicast: %v, want [2]", dst)
	}
	// And a peer's unicast to the guest's learned MAC goes to the guest.
	dst, _ = tb.forward(3, frame(mac(1), mac(3), 46), nil)
	if !slices.Equal(dst, []int{0}) {
		t.Fatalf("unicast to guest: %v", dst)
	}
	if got, ok := tb.lookup(mac(1)); !ok || got != 0 {
		t.Fatalf("mac(1) learned on %d %v, want 0", got, ok)
	}
}

func TestForwardNeverPeerToPeer(t *testing.T) {
	tb := newTestTable()
	tb.forward(1, frame(bcast, mac(1), 46), nil) // mac(1) lives behind peer 1
	// Peer 2 sends to mac(1): relaying it to peer 1 would make a second UDP hop.
	dst, v := tb.forward(2, frame(mac(1), mac(2), 46), nil)
	if v != dropFiltered || len(dst) != 0 {
		t.Fatalf("peer to peer: %v %v, want filtered", dst, v)
	}
	// Unknown unicast from a peer goes to the guest only.
	dst, _ = tb.forward(2, frame(mac(7), mac(2), 46), nil)
	if !slices.Equal(dst, []int{0}) {
		t.Fatalf("unknown unicast from a peer: %v", dst)
	}
	// The guest talking to itself (destination learned on the guest's port) goes nowhere.
	tb.forward(0, frame(bcast, mac(5), 46), nil)
	if dst, v := tb.forward(0, frame(mac(5), mac(6), 46), nil); v != dropFiltered || len(dst) != 0 {
		t.Fatalf("same port: %v %v", dst, v)
	}
}

func TestForwardJunk(t *testing.T) {
	tb := newTestTable()
	for name, f := range map[string][]byte{
		"empty":            nil,
		"short header":     make([]byte, 13),
		"too long":         frame(bcast, mac(1), maxFrameLen),
		"multicast source": frame(bcast, MAC{0x01, 0, 0x5e, 0, 0, 1}, 46),
		"zero source":      frame(bcast, MAC{}, 46),
	} {
		if dst, v := tb.forward(0, f, nil); v != dropJunk || len(dst) != 0 {
			t.Errorf("%s: %v %v, want junk", name, dst, v)
		}
	}
	if dst, v := tb.forward(42, frame(bcast, mac(1), 46), nil); v != dropJunk || len(dst) != 0 {
		t.Errorf("unknown port: %v %v", dst, v)
	}
	if tb.size() != 0 {
		t.Fatalf("junk was learned: %d MACs", tb.size())
	}
	// The largest legal frame passes.
	if _, v := tb.forward(0, frame(bcast, mac(1), maxFrameLen-headerLen), nil); v != forwarded {
		t.Fatalf("1518-byte frame: %v", v)
	}
}

func TestTableBoundsAgeingAndMoves(t *testing.T) {
	tb := newTestTable()
	now := time.Unix(1000, 0)
	tb.now = func() time.Time { return now }
	for i := range byte(10) {
		tb.forward(1, frame(bcast, mac(i+1), 46), nil)
	}
	if n := tb.size(); n != 4 {
		t.Fatalf("table holds %d MACs, bound is 4", n)
	}
	// A MAC that appears on another port moves there.
	tb.forward(2, frame(bcast, mac(1), 46), nil)
	if p, _ := tb.lookup(mac(1)); p != 2 {
		t.Fatalf("mac(1) on %d after moving, want 2", p)
	}
	// After the ageing time everything is forgotten and new MACs are learned again.
	now = now.Add(2 * time.Minute)
	if _, ok := tb.lookup(mac(1)); ok {
		t.Fatal("mac(1) still known after ageing")
	}
	tb.forward(3, frame(bcast, mac(99), 46), nil)
	if p, ok := tb.lookup(mac(99)); !ok || p != 3 {
		t.Fatalf("mac(99) after expiry: %d %v", p, ok)
	}
	// Removing a port forgets its MACs.
	tb.removePort(3)
	if _, ok := tb.lookup(mac(99)); ok {
		t.Fatal("mac(99) known after its port was removed")
	}
}

func TestWire(t *testing.T) {
	f := frame(bcast, mac(1), 46)
	id, got, err := decodeWire(encodeWire(nil, 0x1122334455667788, f))
	if err != nil || id != 0x1122334455667788 || !slices.Equal(got, f) {
		t.Fatalf("round trip: %x %v %v", id, got, err)
	}
	for _, p := range [][]byte{nil, []byte("LNP"), append([]byte("LNP\x02"), make([]byte, 8)...), make([]byte, 40)} {
		if _, _, err := decodeWire(p); err == nil {
			t.Errorf("decodeWire(%q) accepted", p)
		}
	}
}

// BenchmarkForward measures the forwarding decision for a known unicast frame (learning included).
func BenchmarkForward(b *testing.B) {
	tb := newTestTable()
	tb.forward(2, frame(bcast, mac(2), 46), nil)
	f := frame(mac(2), mac(1), 1500)
	var dst []int
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		dst, _ = tb.forward(0, f, dst[:0])
	}
}
