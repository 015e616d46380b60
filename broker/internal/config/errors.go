package config

import "errors"

// ErrInvalid is returned for a flag value that makes no sense.
var ErrInvalid = errors.New("invalid configuration")
