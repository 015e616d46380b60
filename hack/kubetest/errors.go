package kubetest

import "errors"

// ErrMissingBinary is returned when a control plane binary is neither cached nor buildable.
var ErrMissingBinary = errors.New("kubetest: binary missing")

// ErrTimeout is returned when a component or a condition is not ready in time.
var ErrTimeout = errors.New("kubetest: timed out")

// ErrExited is returned when a component exits while the cluster starts.
var ErrExited = errors.New("kubetest: component exited")
