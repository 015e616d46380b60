package httpapi

import "errors"

var errUnknownInstance = errors.New("unknown instance")
