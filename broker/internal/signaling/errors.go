package signaling

import "errors"

var (
	// ErrUnknownInstance means discovery does not know the instance (HTTP 404).
	ErrUnknownInstance = errors.New("unknown instance")
	// ErrNotAttached means the instance's agent has no Attach stream open (HTTP 503).
	ErrNotAttached = errors.New("agent not attached")
	// ErrBadOffer means the body is not an SDP offer (HTTP 400).
	ErrBadOffer = errors.New("malformed SDP offer")
	// ErrOfferTooLarge means the offer exceeds the size limit (HTTP 413).
	ErrOfferTooLarge = errors.New("SDP offer too large")
	// ErrAnswerTimeout means the agent did not answer in time (HTTP 504).
	ErrAnswerTimeout = errors.New("agent did not answer in time")
	// ErrBadAnswer means the agent's reply had no SDP (HTTP 502).
	ErrBadAnswer = errors.New("agent sent an empty answer")
	// ErrUnknownSession means the session does not exist (HTTP 404).
	ErrUnknownSession = errors.New("unknown session")
)
