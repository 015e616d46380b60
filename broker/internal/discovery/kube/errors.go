package kube

import "errors"

// ErrNotSynced is returned when the informer cache could not sync before the context ended.
var ErrNotSynced = errors.New("pod informer did not sync")
