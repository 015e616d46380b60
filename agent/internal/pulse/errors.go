package pulse

import "errors"

var (
	// ErrConfig is returned for an unusable Config.
	ErrConfig = errors.New("pulse: bad configuration")
	// ErrStart is returned when the daemon did not come up.
	ErrStart = errors.New("pulse: server did not start")
)
