package encode

import (
	"slices"
	"sync"
	"time"
)

// Timings records per-frame durations and summarizes them per interval. The zero value is ready; it is safe for
// concurrent use and Add does not allocate.
type Timings struct {
	mu   sync.Mutex
	ring [512]time.Duration
	n    int // samples in ring since the last Take (capped at len(ring))
	pos  int
	all  uint64
	sum  time.Duration
}

// TimingSummary is the summary of one interval.
type TimingSummary struct {
	Count uint64
	Mean  time.Duration
	P95   time.Duration
	Max   time.Duration
}

// Add records one duration.
func (t *Timings) Add(d time.Duration) {
	t.mu.Lock()
	t.ring[t.pos] = d
	t.pos = (t.pos + 1) % len(t.ring)
	if t.n < len(t.ring) {
		t.n++
	}
	t.all++
	t.sum += d
	t.mu.Unlock()
}

// Take summarizes the durations recorded since the previous Take (the most recent 512 of them) and starts a new
// interval.
func (t *Timings) Take() TimingSummary {
	t.mu.Lock()
	n := t.n
	buf := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		buf = append(buf, t.ring[(t.pos-n+i+len(t.ring))%len(t.ring)])
	}
	t.n = 0
	t.mu.Unlock()
	if n == 0 {
		return TimingSummary{}
	}
	slices.Sort(buf)
	var sum time.Duration
	for _, d := range buf {
		sum += d
	}
	return TimingSummary{
		Count: uint64(n),
		Mean:  sum / time.Duration(n),
		P95:   buf[(n*95+99)/100-1],
		Max:   buf[n-1],
	}
}

// Total returns how many durations were recorded and their sum since the start.
func (t *Timings) Total() (uint64, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.all, t.sum
}
