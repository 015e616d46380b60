package input

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// Injector sends input to the VNC server; *rfb.Client implements it.
type Injector interface {
	// PointerAbs sends a pointer event at framebuffer pixel (x, y) with the RFB button mask.
	PointerAbs(buttons uint8, x, y int) error
	// PointerRel sends relative motion; only called when Relative() is true.
	PointerRel(buttons uint8, dx, dy int) error
	// Key presses or releases a key, by scan code when the server takes extended key events, else by keysym.
	Key(down bool, keysym, scancode uint32) error
	// Relative reports whether the server takes relative motion natively (QEMU -257 relative mode).
	Relative() bool
}

// Config configures a [Handler].
type Config struct {
	// MaxWheelNotches bounds the notches sent for one wheel message (default 16).
	MaxWheelNotches int
}

// Stats are a handler's counters.
type Stats struct {
	Injected     uint64 // events applied
	Malformed    uint64 // dropped: malformed
	UnknownKey   uint64 // dropped: unknown KeyboardEvent.code
	Spectator    uint64 // dropped: the session does not hold control
	InjectErrors uint64 // the injector failed (VNC down)
}

// Rejected returns the count for a reason label (ReasonMalformed, ReasonUnknownKey, ReasonSpectator).
func (s Stats) Rejected(reason string) uint64 {
	switch reason {
	case ReasonMalformed:
		return s.Malformed
	case ReasonUnknownKey:
		return s.UnknownKey
	case ReasonSpectator:
		return s.Spectator
	}
	return 0
}

// Handler applies input messages to one instance. Safe for concurrent use; events are applied one at a time.
type Handler struct {
	inj Injector
	fb  *capture.Framebuffer
	cfg Config

	mu      sync.Mutex
	x, y    int   // last known pointer position
	buttons uint8 // last button mask sent
	pressed []bool

	injected, malformed, unknownKey, spectator, injectErrors atomic.Uint64
}

// NewHandler returns a handler injecting into inj, clamping to fb's size.
func NewHandler(inj Injector, fb *capture.Framebuffer, cfg Config) *Handler {
	if cfg.MaxWheelNotches <= 0 {
		cfg.MaxWheelNotches = 16
	}
	return &Handler{inj: inj, fb: fb, cfg: cfg, pressed: make([]bool, len(keys))}
}

// Stats returns the counters.
func (h *Handler) Stats() Stats {
	return Stats{
		Injected:     h.injected.Load(),
		Malformed:    h.malformed.Load(),
		UnknownKey:   h.unknownKey.Load(),
		Spectator:    h.spectator.Load(),
		InjectErrors: h.injectErrors.Load(),
	}
}

// Position returns the last known pointer position.
func (h *Handler) Position() (x, y int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.x, h.y
}

// Handle applies one binary DataChannel message from a session; allowed says whether that session holds control.
// Rejected messages return an error wrapping [ErrSpectator], [ErrMalformed] or [ErrUnknownKey] (counted); a failed
// injection returns an error wrapping [ErrInject]. None of them needs the channel closed.
func (h *Handler) Handle(msg []byte, allowed bool) error {
	if !allowed {
		h.spectator.Add(1)
		return ErrSpectator
	}
	ev, err := Decode(msg)
	switch {
	case errors.Is(err, ErrUnknownKey):
		h.unknownKey.Add(1)
		return err
	case err != nil:
		h.malformed.Add(1)
		return err
	}
	return h.Apply(ev)
}

// Apply injects a decoded event (from a session holding control).
func (h *Handler) Apply(ev Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var err error
	switch ev.Type {
	case TypePointerAbs:
		err = h.moveTo(ev.Buttons, ev.X, ev.Y)
	case TypePointerRel:
		if h.inj.Relative() {
			h.x, h.y = h.clampXY(h.x+ev.X, h.y+ev.Y)
			h.buttons = ev.Buttons
			err = h.inj.PointerRel(ev.Buttons, ev.X, ev.Y)
		} else {
			err = h.moveTo(ev.Buttons, h.x+ev.X, h.y+ev.Y)
		}
	case TypeWheel:
		err = h.wheel(ev.Buttons, ev.X, ev.Y)
	case TypeKeyDown, TypeKeyUp:
		i, ok := keyIndex[ev.Code]
		if !ok {
			h.unknownKey.Add(1)
			return fmt.Errorf("%w: %q", ErrUnknownKey, ev.Code)
		}
		down := ev.Type == TypeKeyDown
		h.pressed[i] = down
		err = h.inj.Key(down, keys[i].Keysym, keys[i].Scancode)
	case TypeReleaseAll:
		err = h.releaseAllLocked()
	default:
		h.malformed.Add(1)
		return fmt.Errorf("%w: unknown type 0x%02x", ErrMalformed, uint8(ev.Type))
	}
	if err != nil {
		h.injectErrors.Add(1)
		return fmt.Errorf("%w: %s: %w", ErrInject, ev.Type, err)
	}
	h.injected.Add(1)
	return nil
}

// ReleaseAll releases every key this handler pressed and all buttons; call it when control changes hands or the
// controlling session ends.
func (h *Handler) ReleaseAll() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.releaseAllLocked(); err != nil {
		h.injectErrors.Add(1)
		return fmt.Errorf("%w: release-all: %w", ErrInject, err)
	}
	return nil
}

func (h *Handler) releaseAllLocked() error {
	var first error
	for i, down := range h.pressed {
		if !down {
			continue
		}
		h.pressed[i] = false
		if err := h.inj.Key(false, keys[i].Keysym, keys[i].Scancode); err != nil && first == nil {
			first = err
		}
	}
	if err := h.pointer(0); err != nil && first == nil {
		first = err
	}
	return first
}

// moveTo moves the pointer to (x, y), clamped: absolute, or as a delta in relative mode.
func (h *Handler) moveTo(buttons uint8, x, y int) error {
	x, y = h.clampXY(x, y)
	dx, dy := x-h.x, y-h.y
	h.x, h.y, h.buttons = x, y, buttons
	if h.inj.Relative() {
		return h.inj.PointerRel(buttons, dx, dy)
	}
	return h.inj.PointerAbs(buttons, x, y)
}

// pointer sends the button mask at the current position without motion.
func (h *Handler) pointer(buttons uint8) error {
	h.buttons = buttons
	if h.inj.Relative() {
		return h.inj.PointerRel(buttons, 0, 0)
	}
	return h.inj.PointerAbs(buttons, h.x, h.y)
}

// Wheel buttons of the RFB button mask.
const (
	wheelUp    = 0x08
	wheelDown  = 0x10
	wheelLeft  = 0x20
	wheelRight = 0x40
)

func (h *Handler) wheel(buttons uint8, dx, dy int) error {
	notch := func(bit uint8, n int) error {
		n = min(n, h.cfg.MaxWheelNotches)
		for range n {
			if err := h.pointer(buttons | bit); err != nil {
				return err
			}
			if err := h.pointer(buttons); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	switch {
	case dy > 0:
		err = notch(wheelDown, dy)
	case dy < 0:
		err = notch(wheelUp, -dy)
	}
	if err != nil {
		return err
	}
	switch {
	case dx > 0:
		err = notch(wheelRight, dx)
	case dx < 0:
		err = notch(wheelLeft, -dx)
	}
	if err == nil && dx == 0 && dy == 0 {
		err = h.pointer(buttons)
	}
	return err
}

func (h *Handler) clampXY(x, y int) (int, int) {
	w, ht := h.fb.Size()
	return max(0, min(x, w-1)), max(0, min(y, ht-1))
}
