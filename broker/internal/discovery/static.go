package discovery

import (
	"context"
	"fmt"
	"strings"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Static is a fixed list of instances, for local runs without Kubernetes. Every entry is ready.
type Static struct {
	targets []Target
}

// NewStatic builds a static source from instance ids in grid order. An entry may carry an address after an equals
// sign ("loco-0=127.0.0.1"). Ids must be unique and non-empty.
func NewStatic(entries []string) (*Static, error) {
	seen := make(map[string]bool, len(entries))
	s := &Static{}
	for i, e := range entries {
		id, addr, _ := strings.Cut(strings.TrimSpace(e), "=")
		if id == "" {
			return nil, fmt.Errorf("static entry %d: %w", i, ErrEmptyID)
		}
		if seen[id] {
			return nil, fmt.Errorf("static entry %q: %w", id, ErrDuplicateID)
		}
		seen[id] = true
		s.targets = append(s.targets, Target{
			ID:       id,
			Ordinal:  int32(i),
			Workload: &locov1.Workload{Address: addr, Ready: true},
		})
	}
	return s, nil
}

// Run reports every entry once, then waits for ctx.
func (s *Static) Run(ctx context.Context, sink Sink, synced func()) error {
	for _, t := range s.targets {
		sink.Upsert(t)
	}
	synced()
	<-ctx.Done()
	return nil
}
