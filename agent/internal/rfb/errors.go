package rfb

import "errors"

var (
	// ErrNotConnected is returned by input methods while no connection is up.
	ErrNotConnected = errors.New("rfb: not connected")
	// ErrUnknownMessage means the server sent a message type this client does not know; the connection ends.
	ErrUnknownMessage = errors.New("rfb: unknown server message type")
	// ErrUnknownEncoding means a rectangle used an encoding this client did not ask for; the connection ends.
	ErrUnknownEncoding = errors.New("rfb: unknown rectangle encoding")
	// ErrMalformed means a message was inconsistent (a rectangle outside the framebuffer, an impossible size, an
	// oversized text); the connection ends.
	ErrMalformed = errors.New("rfb: malformed server message")
	// ErrConnectionLost means the connection closed or failed while reading or writing.
	ErrConnectionLost = errors.New("rfb: connection lost")
	// ErrHandshake means the RFB handshake failed (version, security, ServerInit).
	ErrHandshake = errors.New("rfb: handshake failed")
	// ErrNoRelative is returned by PointerRel when the server does not take relative motion.
	ErrNoRelative = errors.New("rfb: server has no relative pointer mode")
	// ErrNoKey is returned by Key when neither a scan code (with -258) nor a keysym can be sent.
	ErrNoKey = errors.New("rfb: key has no usable scan code or keysym")
)
