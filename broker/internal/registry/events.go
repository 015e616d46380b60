package registry

import (
	"bytes"
	"strconv"
	"sync"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

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

	// body is Instance's JSON, encoded once and shared by the change event and every snapshot event that carries
	// the same Instance.
	body *body
}

// body is the lazily encoded JSON of one published Instance.
type body struct {
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

// InstanceJSON returns the Instance as JSON (JSONMarshal), encoded once and shared by every event that carries the
// same Instance: the caller must not modify it. An Instance that cannot be encoded (invalid UTF-8 from an agent)
// renders as null.
func (e *Event) InstanceJSON() []byte {
	if e.body == nil { // an Event made outside the registry: nothing to share
		return marshalInstance(e.Instance)
	}
	e.body.once.Do(func() { e.body.json = marshalInstance(e.Instance) })
	return e.body.json
}

func marshalInstance(in *locov1.Instance) []byte {
	if in == nil {
		return []byte("null")
	}
	// Encode into a pooled buffer and keep an exact copy: the encoder's own growing buffer would be garbage several
	// times the size of the result, a thousand times a second at a thousand instances.
	buf := encodeBuffers.Get().(*[]byte)
	defer encodeBuffers.Put(buf)
	b, err := JSONMarshal.MarshalAppend((*buf)[:0], in)
	if cap(b) <= maxEncodeBuffer {
		*buf = b
	}
	if err != nil {
		// Only invalid UTF-8 in a string field can fail; agents send arbitrary strings, so degrade visibly.
		return []byte("null")
	}
	return bytes.Clone(b)
}

// encodeBuffers holds scratch buffers for marshalInstance; one that grew past maxEncodeBuffer is not kept.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxEncodeBuffer = 64 << 10

// AppendJSONHead appends the beginning of a WatchInstancesResponse in JSON, up to its instance:
// {"sequence":"42","type":"EVENT_TYPE_UPDATED","instance": — followed by an InstanceJSON and "}", it is the message
// protojson encodes (JSONMarshal).
func AppendJSONHead(dst []byte, seq uint64, t locov1.EventType) []byte {
	dst = append(dst, `{"sequence":"`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `","type":`...)
	if v := t.Descriptor().Values().ByNumber(protoreflect.EnumNumber(t)); v != nil {
		dst = append(dst, '"')
		dst = append(dst, v.Name()...)
		dst = append(dst, '"')
	} else {
		dst = strconv.AppendInt(dst, int64(t), 10) // what protojson writes for an unknown enum value
	}
	return append(dst, `,"instance":`...)
}

// AppendJSON appends the event's WatchInstancesResponse as one line of JSON. Only the head is written per call; the
// Instance is encoded once.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = AppendJSONHead(dst, e.Seq, e.Type)
	dst = append(dst, e.InstanceJSON()...)
	return append(dst, '}')
}

// JSON returns the event as AppendJSON renders it, in a new slice.
func (e *Event) JSON() []byte { return e.AppendJSON(nil) }

// publish records one event about e for the feeds without blocking. Must hold r.mu.
func (r *Registry) publish(e *entry, t locov1.EventType, inst *locov1.Instance) {
	r.seq++
	ev := &Event{Seq: r.seq, Type: t, Instance: inst, body: &body{}}
	if m := r.cfg.Metrics; m != nil {
		m.Events.WithLabelValues(t.String()).Inc()
	}
	r.logAppend(e.last, ev)
	e.last = ev
}

// closeFeeds ends every feed when the registry stops.
func (r *Registry) closeFeeds() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	for f := range r.feeds {
		r.endFeed(f, false)
	}
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	r.updateGauges()
}
