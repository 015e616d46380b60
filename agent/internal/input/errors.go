package input

import "errors"

var (
	// ErrMalformed marks a message of the wrong length, an unknown type or an over-long code (reason "malformed").
	ErrMalformed = errors.New("input: malformed message")
	// ErrUnknownKey marks a key event whose code has no scan code (reason "unknown_key").
	ErrUnknownKey = errors.New("input: unknown key code")
	// ErrSpectator marks input from a session that does not hold control (reason "spectator").
	ErrSpectator = errors.New("input: session does not hold control")
	// ErrInject wraps an error of the injector (VNC down).
	ErrInject = errors.New("input: injection failed")
)

// Reasons, as used in loco_agent_input_rejected_total{reason=...}.
const (
	ReasonMalformed  = "malformed"
	ReasonUnknownKey = "unknown_key"
	ReasonSpectator  = "spectator"
)
