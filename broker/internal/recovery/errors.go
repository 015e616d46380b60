package recovery

import "errors"

var (
	// ErrBadMode is returned for an unknown --recover value.
	ErrBadMode = errors.New("unknown recover mode")
	// ErrUnknownInstance means the registry does not know the instance.
	ErrUnknownInstance = errors.New("unknown instance")
	// ErrNotAttached means the local restarter found no agent to ask.
	ErrNotAttached = errors.New("agent not attached")
	// ErrNoPod means the instance has no pod to delete.
	ErrNoPod = errors.New("instance has no pod")
)
