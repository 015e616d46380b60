package registry

import (
	"sort"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Feed follows the registry's changes for a reader that may fall behind, such as an SSE client on a slow link or a
// busy browser. Nothing is queued per feed: the registry keeps one log of the changes that some feed has not read
// yet, shared by every feed, in which a health-only update of an instance (same state as that instance's previous
// update) replaces the previous one. A reader that takes its changes late therefore gets, in sequence order, every
// state change of every instance and the latest figures of each, and never an older state of an instance after a
// newer one; a reader that keeps up gets every change. Publishing costs the same whatever the number of feeds.
type Feed struct {
	r     *Registry
	limit int
	start uint64
	// cursor is the sequence of the last change handed to the reader. Guarded by r.mu, like done and dropped.
	cursor  uint64
	done    bool
	dropped bool
}

// slot is one change in the shared log; ev is nil once a later change of the same instance replaced it.
type slot struct {
	seq uint64
	ev  *Event
}

// minCompact is the log length below which the log is never compacted.
const minCompact = 1024

// closedCh is always ready.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Follow returns a feed of every change from now on and, atomically with it, the current instances as the latest
// change of each, in grid order (ordinal, then id): no change is missed or seen twice. Those events are shared and
// read-only, like every event; a reader presents them as a snapshot (EVENT_TYPE_SNAPSHOT with sequence f.Start()).
// limit bounds the changes waiting for a reader that falls behind (after health-only updates were replaced: about
// one per instance plus its state changes); a feed that exceeds it is dropped.
func (r *Registry) Follow(limit int) ([]*Event, *Feed) {
	if limit < 1 {
		limit = 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f := &Feed{r: r, limit: limit, start: r.seq, cursor: r.seq}
	if r.stopped {
		f.done = true
		return nil, f
	}
	es := r.publishedLocked()
	latest := make([]*Event, len(es))
	for i, e := range es {
		latest[i] = e.last
		if e.last == nil || e.last.Instance != e.published { // not expected: every publication is an event
			latest[i] = &Event{Seq: r.seq, Type: locov1.EventType_EVENT_TYPE_UPDATED, Instance: e.published, body: &body{}}
		}
	}
	r.feeds[f] = struct{}{}
	r.updateGauges()
	return latest, f
}

// Start is the sequence of the last change before the feed began.
func (f *Feed) Start() uint64 { return f.start }

// Ready is ready when Next has something to return: changes the reader has not taken, or the end of the feed.
func (f *Feed) Ready() <-chan struct{} {
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	// Every change after the cursor is still in the log: the log keeps what any feed has not read, and the newest
	// change of an instance is never replaced.
	if f.done || f.cursor < r.seq {
		return closedCh
	}
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

// Next appends to dst, in sequence order, up to max changes the reader has not taken yet, and reports false (with
// dst unchanged) once the feed was closed, dropped or the registry stopped. Changes left for a later call may still
// be replaced by newer ones.
func (f *Feed) Next(dst []*Event, max int) ([]*Event, bool) {
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.done {
		return dst, false
	}
	for _, s := range r.log[r.logAfter(f.cursor):] {
		if s.ev == nil {
			continue
		}
		if max <= 0 {
			return dst, true
		}
		dst = append(dst, s.ev)
		f.cursor = s.seq
		max--
	}
	f.cursor = r.seq
	return dst, true
}

// Dropped reports whether the feed was cut off because its reader fell behind.
func (f *Feed) Dropped() bool {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	return f.dropped
}

// Close ends the feed. It is safe to call more than once.
func (f *Feed) Close() {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.r.endFeed(f, false)
}

// CutOff ends the feed as dropped, for a reader that could not take its changes in time (an SSE write that timed
// out): it counts as a subscriber that fell behind.
func (f *Feed) CutOff() {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.r.endFeed(f, true)
}

// endFeed removes f. Must hold r.mu.
func (r *Registry) endFeed(f *Feed, dropped bool) {
	if f.done {
		return
	}
	f.done, f.dropped = true, dropped
	delete(r.feeds, f)
	if dropped {
		if m := r.cfg.Metrics; m != nil {
			m.Dropped.Inc()
		}
	}
	if len(r.feeds) == 0 {
		r.log, r.compactAt = nil, minCompact
	}
	r.updateGauges()
}

// logAfter returns the index of the first log slot after sequence seq. Must hold r.mu.
func (r *Registry) logAfter(seq uint64) int {
	return sort.Search(len(r.log), func(i int) bool { return r.log[i].seq > seq })
}

// replaces reports whether ev makes prev, the previous change of the same instance, worthless to a reader that has
// not read prev yet: both are updates in the same state, so ev only carries newer figures (or reason, controller…).
func replaces(ev, prev *Event) bool {
	return ev.Type == locov1.EventType_EVENT_TYPE_UPDATED && prev.Type == locov1.EventType_EVENT_TYPE_UPDATED &&
		ev.Instance.GetState() == prev.Instance.GetState()
}

// logAppend records ev, the change that follows prev (nil for none) of the same instance, for the feeds and wakes
// them. Must hold r.mu.
func (r *Registry) logAppend(prev, ev *Event) {
	if len(r.feeds) == 0 {
		return
	}
	if prev != nil && replaces(ev, prev) {
		if i := r.logAfter(prev.Seq - 1); i < len(r.log) && r.log[i].ev == prev {
			r.log[i].ev = nil
		}
	}
	r.log = append(r.log, slot{seq: ev.Seq, ev: ev})
	if len(r.log) >= r.compactAt {
		r.compactLog()
	}
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// compactLog removes replaced changes and the changes every feed has read, after dropping the feeds that fell more
// than their limit behind. Must hold r.mu.
func (r *Registry) compactLog() {
	keep := r.log[:0]
	for _, s := range r.log {
		if s.ev != nil {
			keep = append(keep, s)
		}
	}
	clear(r.log[len(keep):])
	r.log = keep
	low := r.seq
	for f := range r.feeds {
		if len(r.log)-r.logAfter(f.cursor) > f.limit {
			r.endFeed(f, true)
			continue
		}
		low = min(low, f.cursor)
	}
	n := copy(r.log, r.log[r.logAfter(low):])
	clear(r.log[n:])
	r.log = r.log[:n]
	if cap(r.log) > 4*max(minCompact, n) {
		r.log = append([]slot(nil), r.log...) // give back what a long backlog once needed
	}
	r.compactAt = max(minCompact, 2*n)
}
