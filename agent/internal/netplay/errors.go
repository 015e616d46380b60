package netplay

import "errors"

var (
	// ErrConfig is returned by New for an unusable Config.
	ErrConfig = errors.New("netplay: bad configuration")

	errJunk = errors.New("netplay: junk frame")
)
