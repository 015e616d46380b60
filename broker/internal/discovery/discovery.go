// Package discovery finds the instances the broker should expect: emulator pods in Kubernetes (package kube: a
// shared informer, watch only, never polling) or a static list for local runs (here). Both sources report to a
// Sink, which the registry implements; a Source never blocks on anything but its Sink.
package discovery

import (
	"context"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// DefaultSelector selects the emulator pods of deploy/.
const DefaultSelector = "app.kubernetes.io/name=loco,app.kubernetes.io/component=emulator"

// Target is one instance as discovery sees it.
type Target struct {
	// ID is the instance id: the pod name in Kubernetes, the configured name in static mode.
	ID string
	// Ordinal is the grid position: the StatefulSet ordinal, or the position in the static list.
	Ordinal int32
	// UID is the pod's UID (empty in static mode); recovery deletes a pod only with this UID as precondition.
	UID string
	// Workload is what is known about where the instance runs.
	Workload *locov1.Workload
	// Reason explains a Target that is not ready ("pod pending", "pod terminating"); empty when ready.
	Reason string
}

// Sink receives what a Source discovers. Calls for one source arrive in order from one goroutine at a time.
type Sink interface {
	// Upsert adds a target or replaces what was known about it.
	Upsert(t Target)
	// Remove forgets a target; why says what happened ("pod deleted").
	Remove(id, why string)
}

// Source is a discovery mechanism.
type Source interface {
	// Run reports targets to sink until ctx is done. It returns after its initial listing has been reported through
	// synced (closed once), or with an error if it cannot start.
	Run(ctx context.Context, sink Sink, synced func()) error
}
