package tightproxy

import "errors"

var (
	// ErrProtocol is returned when a peer sends something this proxy does not speak.
	ErrProtocol = errors.New("unsupported RFB message")
	// ErrAuth is returned when the upstream server wants authentication.
	ErrAuth = errors.New("upstream VNC server requires authentication")
)
