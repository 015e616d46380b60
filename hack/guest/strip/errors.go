package strip

import "errors"

var (
	// ErrNoStrip means the picture holds no valid state strip (wrong magic or checksum).
	ErrNoStrip = errors.New("strip: no valid state strip in the picture")
	// ErrTooSmall means the picture cannot contain the strip.
	ErrTooSmall = errors.New("strip: picture smaller than the guest screen's strip area")
)
