package webrtc

import "errors"

// Errors returned by this package.
var (
	// ErrBadOffer is returned for an SDP that does not parse or is not an offer Pion can answer.
	ErrBadOffer = errors.New("webrtc: bad offer")
	// ErrUnknownSession is returned for a session id that does not exist.
	ErrUnknownSession = errors.New("webrtc: unknown session")
	// ErrDuplicateSession is returned for an offer whose session id is already in use.
	ErrDuplicateSession = errors.New("webrtc: session id already in use")
	// ErrTooManyViewers is returned when MaxViewers sessions exist.
	ErrTooManyViewers = errors.New("webrtc: too many viewers")
	// ErrClosed is returned after the manager was closed.
	ErrClosed = errors.New("webrtc: closed")
	// ErrConfig is returned for an invalid configuration.
	ErrConfig = errors.New("webrtc: bad config")
	// ErrGather is returned when ICE candidate gathering does not finish in time.
	ErrGather = errors.New("webrtc: ICE gathering timed out")
)
