package netplay

import (
	"sync"
	"time"
)

// portKind says where a port leads.
type portKind int

const (
	kindLocal portKind = iota // the guest's NIC
	kindPeer                  // another agent
)

// table is the forwarding core: it learns source MACs per port and decides where a frame goes. Ports are small
// integers chosen by the caller; the table only needs to know each port's kind. It is safe for concurrent use.
type table struct {
	maxMACs int
	age     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	kinds map[int]portKind
	macs  map[MAC]learned
}

type learned struct {
	port int
	seen time.Time
}

// verdict is why a frame went nowhere.
type verdict int

const (
	forwarded    verdict = iota
	dropJunk             // not an Ethernet frame we pass on
	dropFiltered         // destination is on the port it came from, or on another peer
)

func newTable(maxMACs int, age time.Duration) *table {
	return &table{maxMACs: maxMACs, age: age, now: time.Now, kinds: map[int]portKind{}, macs: map[MAC]learned{}}
}

func (t *table) addPort(id int, k portKind) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.kinds[id] = k
}

// removePort forgets a port and every MAC learned on it.
func (t *table) removePort(id int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.kinds, id)
	for m, l := range t.macs {
		if l.port == id {
			delete(t.macs, m)
		}
	}
}

// size is the number of MACs learned.
func (t *table) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.macs)
}

// lookup returns the port a MAC was learned on.
func (t *table) lookup(m MAC) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.macs[m]
	if !ok || t.now().Sub(l.seen) > t.age {
		return 0, false
	}
	return l.port, true
}

// forward learns the frame's source on port from and appends to dst the ports the frame must go to. A frame from
// a peer only ever goes to local ports.
func (t *table) forward(from int, frame []byte, dst []int) ([]int, verdict) {
	d, s, err := parse(frame)
	if err != nil {
		return dst, dropJunk
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fromKind, ok := t.kinds[from]
	if !ok {
		return dst, dropJunk
	}
	now := t.now()
	if _, known := t.macs[s]; known || len(t.macs) < t.maxMACs {
		t.macs[s] = learned{port: from, seen: now}
	} else {
		t.expire(now)
		if len(t.macs) < t.maxMACs {
			t.macs[s] = learned{port: from, seen: now}
		}
	}
	allowed := func(p int) bool {
		return p != from && (fromKind == kindLocal || t.kinds[p] == kindLocal)
	}
	if !d.group() {
		if l, ok := t.macs[d]; ok && now.Sub(l.seen) <= t.age {
			if _, live := t.kinds[l.port]; live {
				if !allowed(l.port) {
					return dst, dropFiltered
				}
				return append(dst, l.port), forwarded
			}
		}
	}
	for p := range t.kinds {
		if allowed(p) {
			dst = append(dst, p)
		}
	}
	return dst, forwarded
}

// expire forgets MACs not seen for longer than the ageing time. Called with mu held.
func (t *table) expire(now time.Time) {
	for m, l := range t.macs {
		if now.Sub(l.seen) > t.age {
			delete(t.macs, m)
		}
	}
}
