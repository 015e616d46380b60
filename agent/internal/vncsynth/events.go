package vncsynth

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Event kinds.
const (
	KindPointerAbs = "pointer-abs" // PointerEvent at X, Y
	KindPointerRel = "pointer-rel" // PointerEvent in -257 relative mode: X, Y are the deltas (x-0x7FFF, y-0x7FFF)
	KindKey        = "key"         // KeyEvent: Keysym, Down
	KindExtKey     = "ext-key"     // QEMU extended key event: Keysym, Scancode, Down
	KindCutText    = "cut-text"    // ClientCutText (Text)
)

// Event is one input message received from a client.
type Event struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Buttons  uint8     `json:"buttons"`
	X        int       `json:"x"`
	Y        int       `json:"y"`
	Down     bool      `json:"down"`
	Keysym   uint32    `json:"keysym"`
	Scancode uint32    `json:"scancode"`
	Text     string    `json:"text,omitempty"`
}

// Paint records when a frame was painted.
type Paint struct {
	Frame    uint64 `json:"frame"`
	Stamp    uint16 `json:"stamp"`
	UnixNano int64  `json:"unix_nano"`
}

// maxKept bounds the events and paints kept in memory (the oldest half is dropped beyond it).
const maxKept = 1 << 17

// journal keeps events and paints.
type journal struct {
	mu       sync.Mutex
	events   []Event
	seq      uint64
	paints   []Paint
	paintLog *json.Encoder
	onEvent  func(Event)
}

func newJournal(paintLog io.Writer, onEvent func(Event)) *journal {
	j := &journal{onEvent: onEvent}
	if paintLog != nil {
		j.paintLog = json.NewEncoder(paintLog)
	}
	return j
}

func (j *journal) addEvent(ev Event) {
	j.mu.Lock()
	j.seq++
	ev.Seq = j.seq
	ev.Time = time.Now()
	if len(j.events) >= maxKept {
		j.events = append(j.events[:0], j.events[maxKept/2:]...)
	}
	j.events = append(j.events, ev)
	on := j.onEvent
	j.mu.Unlock()
	if on != nil {
		on(ev)
	}
}

// eventsSince returns the events with Seq > since.
func (j *journal) eventsSince(since uint64) []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Event{}
	for _, e := range j.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

func (j *journal) addPaint(frame uint64, t time.Time) {
	p := Paint{Frame: frame, Stamp: uint16(frame), UnixNano: t.UnixNano()}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.paints) >= maxKept {
		j.paints = append(j.paints[:0], j.paints[maxKept/2:]...)
	}
	j.paints = append(j.paints, p)
	if j.paintLog != nil {
		_ = j.paintLog.Encode(p)
	}
}

// paintsSince returns the paints with Frame > since (all of them for since < 0).
func (j *journal) paintsSince(since int64) []Paint {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := []Paint{}
	for _, p := range j.paints {
		if int64(p.Frame) > since {
			out = append(out, p)
		}
	}
	return out
}

// paintTime finds the latest paint with the given 16-bit stamp.
func (j *journal) paintOfStamp(stamp uint16) (Paint, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.paints) - 1; i >= 0; i-- {
		if j.paints[i].Stamp == stamp {
			return j.paints[i], true
		}
	}
	return Paint{}, false
}

// WithoutIdlePointer returns evs without the relative pointer events that carry no motion and no button change:
// the zero-motion events a QEMU client sends after motion so that QEMU's PS/2 mouse hands over what it holds
// (rfb.Client.PointerRel). Tests that count input events compare what is left.
func WithoutIdlePointer(evs []Event) []Event {
	var out []Event
	var buttons uint8
	for _, ev := range evs {
		switch ev.Kind {
		case KindPointerRel:
			if ev.X == 0 && ev.Y == 0 && ev.Buttons == buttons {
				continue
			}
			buttons = ev.Buttons
		case KindPointerAbs:
			buttons = ev.Buttons
		}
		out = append(out, ev)
	}
	return out
}
