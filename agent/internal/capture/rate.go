package capture

import (
	"sync"
	"time"
)

// rateBuckets of rateBucket each make the one-second window of a [RateMeter].
const (
	rateBuckets = 10
	rateBucket  = 100 * time.Millisecond
)

// RateMeter counts events per second over the last second (in 100 ms buckets). Safe for concurrent use; Mark does
// not allocate. The zero value is ready to use.
type RateMeter struct {
	mu     sync.Mutex
	counts [rateBuckets]uint32
	last   int64 // bucket index (unix time / rateBucket) of the most recent Mark or Rate
	total  uint64
}

// Mark records one event now.
func (m *RateMeter) Mark() { m.MarkAt(time.Now()) }

// MarkAt records one event at t.
func (m *RateMeter) MarkAt(t time.Time) {
	m.mu.Lock()
	m.advance(t)
	m.counts[m.last%rateBuckets]++
	m.total++
	m.mu.Unlock()
}

// Rate returns the events in the second before now.
func (m *RateMeter) Rate() float64 { return m.RateAt(time.Now()) }

// RateAt returns the events in the second before t.
func (m *RateMeter) RateAt(t time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(t)
	var n uint32
	for _, c := range m.counts {
		n += c
	}
	return float64(n)
}

// Total returns the number of events ever marked.
func (m *RateMeter) Total() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

func (m *RateMeter) advance(t time.Time) {
	b := t.UnixNano() / int64(rateBucket)
	if b <= m.last {
		return
	}
	if b-m.last >= rateBuckets {
		m.counts = [rateBuckets]uint32{}
	} else {
		for i := m.last + 1; i <= b; i++ {
			m.counts[i%rateBuckets] = 0
		}
	}
	m.last = b
}
