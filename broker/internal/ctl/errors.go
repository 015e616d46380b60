package ctl

import "errors"

// ErrUsage is returned for a malformed command line.
var ErrUsage = errors.New("usage")
