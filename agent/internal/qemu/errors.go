package qemu

import "errors"

var (
	// ErrConfig is returned by New for an unusable Config.
	ErrConfig = errors.New("qemu: bad configuration")
	// ErrNotRunning is returned by requests that need a running QEMU.
	ErrNotRunning = errors.New("qemu: not running")
	// ErrQMP is returned when QMP answers with an error or not at all.
	ErrQMP = errors.New("qemu: QMP")
	// ErrStopped is returned by requests made after Run has returned.
	ErrStopped = errors.New("qemu: supervisor stopped")
)
