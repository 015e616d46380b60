package main

import (
	"sync"

	"github.com/loco-cluster/loco/hack/guest/strip"
)

// marker is a place the user clicked.
type marker struct{ x, y int }

// state is what the input goroutines learn and the scene shows.
type state struct {
	mu      sync.Mutex
	w, h    int
	x, y    int
	buttons uint8 // strip.Button* mask
	keys    uint16
	lastKey uint16
	recent  []string // names of the last keys pressed, oldest first
	clicks  uint16
	markers []marker // last clicks, oldest first
}

type stateSnapshot struct {
	strip   strip.State
	recent  []string
	markers []marker
}

const maxRecent, maxMarkers = 24, 16

func newState(w, h int) *state {
	return &state{w: w, h: h, x: w / 2, y: h / 2}
}

// move applies a relative motion (screen orientation: y grows downwards) and the buttons now held. It reports
// whether a button went down.
func (s *state) move(dx, dy int, buttons uint8) (clicked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.x = min(max(s.x+dx, 0), s.w-1)
	s.y = min(max(s.y+dy, 0), s.h-1)
	if buttons&^s.buttons != 0 {
		clicked = true
		s.clicks++
		s.markers = append(s.markers, marker{s.x, s.y})
		if len(s.markers) > maxMarkers {
			s.markers = s.markers[1:]
		}
	}
	s.buttons = buttons
	return clicked
}

func (s *state) key(code uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys++
	s.lastKey = code
	s.recent = append(s.recent, keyName(code))
	if len(s.recent) > maxRecent {
		s.recent = s.recent[1:]
	}
}

// snap returns a consistent copy for one frame.
func (s *state) snap(frame uint32) stateSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return stateSnapshot{
		strip: strip.State{
			X: uint16(s.x), Y: uint16(s.y), Buttons: s.buttons, Keys: s.keys, LastKey: s.lastKey,
			Frame: frame, Clicks: s.clicks,
		},
		recent:  append([]string(nil), s.recent...),
		markers: append([]marker(nil), s.markers...),
	}
}
