package discovery

import "errors"

var (
	// ErrEmptyID is returned for a static entry without an id.
	ErrEmptyID = errors.New("empty instance id")
	// ErrDuplicateID is returned when a static list names an instance twice.
	ErrDuplicateID = errors.New("duplicate instance id")
)
