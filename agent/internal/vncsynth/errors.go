package vncsynth

import "errors"

var (
	// ErrConfig is returned by New for an invalid configuration.
	ErrConfig = errors.New("vncsynth: invalid configuration")
	// ErrProtocol ends a client connection that sent something the server does not understand.
	ErrProtocol = errors.New("vncsynth: protocol error")
	// ErrMode is returned by SetMode for an invalid size.
	ErrMode = errors.New("vncsynth: invalid mode")
)
