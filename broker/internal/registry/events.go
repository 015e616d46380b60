package registry

import (
	"sync"

	"google.golang.org/protobuf/encoding/protojson"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Event is one registry change. Its Instance is shared by every subscriber and must not be modified.
type Event struct {
	// Seq is the registry's sequence number: strictly increasing for changes; snapshot events carry the sequence of
	// the last change before the snapshot.
	Seq uint64
	// Type says what happened.
	Type locov1.EventType
	// Instance is the instance after the change (for REMOVED: its last state, with state GONE).
	Instance *locov1.Instance

	once sync.Once
	json []byte
}

// Proto returns the event as the Ops WatchInstances message (sharing Instance).
func (e *Event) Proto() *locov1.WatchInstancesResponse {
	return &locov1.WatchInstancesResponse{Sequence: e.Seq, Type: e.Type, Instance: e.Instance}
}

// JSONMarshal is how every HTTP body of the broker renders protobuf messages (docs/api.md): lowerCamelCase names,
// enums as strings, unpopulated fields emitted, on one line.
var JSONMarshal = protojson.MarshalOptions{EmitUnpopulated: true}

// JSON returns the event's WatchInstancesResponse as one line of protojson, encoded once and shared by every
// subscriber.
func (e *Event) JSON() []byte {
	e.once.Do(func() {
		b, err := JSONMarshal.Marshal(e.Proto())
		if err != nil {
			// Only invalid UTF-8 in a string field can fail; agents send arbitrary strings, so degrade visibly.
			b = []byte(`{"sequence":"0","type":"EVENT_TYPE_UNSPECIFIED","instance":null}`)
		}
		e.json = b
	})
	return e.json
}

// Subscription receives registry events until it is closed or dropped.
type Subscription struct {
	r  *Registry
	ch chan *Event
	// dropped is set (under r.mu) when the subscriber fell behind and was cut off.
	dropped bool
}

// C delivers events in order. It is closed when the subscription is closed, dropped or the registry stops.
func (s *Subscription) C() <-chan *Event { return s.ch }

// Dropped reports whether the subscription was cut off because its buffer was full. Valid after C is closed.
func (s *Subscription) Dropped() bool {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.dropped
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	if _, ok := s.r.subs[s]; ok {
		delete(s.r.subs, s)
		close(s.ch)
		s.r.updateGauges()
	}
}

// Subscribe returns the current instances as snapshot events and a subscription for every later change, atomically:
// no change is missed or seen twice. buffer bounds the events queued for a slow reader; when it overflows the
// subscription is dropped.
func (r *Registry) Subscribe(buffer int) ([]*Event, *Subscription) {
	if buffer < 1 {
		buffer = 1
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.listLocked()
	snap := make([]*Event, len(list))
	for i, in := range list {
		snap[i] = &Event{Seq: r.seq, Type: locov1.EventType_EVENT_TYPE_SNAPSHOT, Instance: in}
	}
	s := &Subscription{r: r, ch: make(chan *Event, buffer)}
	r.subs[s] = struct{}{}
	r.updateGauges()
	return snap, s
}

// publish sends one event to every subscriber without blocking. Must hold r.mu.
func (r *Registry) publish(t locov1.EventType, inst *locov1.Instance) {
	r.seq++
	ev := &Event{Seq: r.seq, Type: t, Instance: inst}
	if m := r.cfg.Metrics; m != nil {
		m.Events.WithLabelValues(t.String()).Inc()
	}
	for s := range r.subs {
		select {
		case s.ch <- ev:
		default:
			s.dropped = true
			delete(r.subs, s)
			close(s.ch)
			if m := r.cfg.Metrics; m != nil {
				m.Dropped.Inc()
			}
		}
	}
}

func (r *Registry) closeSubscribers() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		delete(r.subs, s)
		close(s.ch)
	}
	r.updateGauges()
}
