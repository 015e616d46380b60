// Package registry joins what discovery expects with what agents report on their Attach streams, derives each
// instance's state (expected, attached, healthy, degraded, unhealthy, gone) and publishes every change, in order, to
// subscribers (SSE clients and gRPC watchers), each of which follows a Feed.
//
// Publishing never blocks. A Feed queues nothing of its own: feeds read one shared log in which a health-only update
// replaces the unread previous update of the same instance (feed.go), so a reader that falls behind gets every state
// change and the latest figures rather than a backlog, and is dropped only when its unread state changes pile up.
// Health-only changes of an instance are coalesced to at most one event per HealthEvery; state changes are published
// at once. An agent that attaches for an instance discovery does not know is kept apart (counted and logged) and never
// becomes an instance until discovery names it.
package registry

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/loco-cluster/loco/broker/internal/discovery"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Config tunes the registry.
type Config struct {
	// HealthEvery is the minimum time between two health-only events of one instance. Default 1s.
	HealthEvery time.Duration
	// SilentAfter is how long an attached agent may go without a health report before its instance is unhealthy.
	// Default 5s.
	SilentAfter time.Duration
	// Tick is how often pending health events are flushed and silence is checked. Default 100ms.
	Tick time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Log receives attach/detach and untrusted-agent reports; default slog.Default().
	Log *slog.Logger
	// Metrics, when set, is kept up to date.
	Metrics *Metrics
}

func (c *Config) defaults() {
	if c.HealthEvery <= 0 {
		c.HealthEvery = time.Second
	}
	if c.SilentAfter <= 0 {
		c.SilentAfter = 5 * time.Second
	}
	if c.Tick <= 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// Registry is the broker's view of every instance. It is safe for concurrent use.
type Registry struct {
	cfg Config

	mu        sync.Mutex
	entries   map[string]*entry
	seq       uint64
	untrusted int
	stopped   bool

	// feeds read log, the changes some feed has not read yet (feed.go); changed is closed at the next change.
	feeds     map[*Feed]struct{}
	log       []slot
	compactAt int
	changed   chan struct{}
}

// entry is everything known about one id: a discovered target, an attached agent, or both.
type entry struct {
	target *discovery.Target

	agentGen   uint64
	hello      *locov1.AgentHello
	attachedAt time.Time
	health     *locov1.HealthReport
	healthAt   time.Time
	controller *locov1.Viewer

	// published is the last Instance sent to subscribers (nil before ADDED); last is the last event (nil before
	// ADDED; after REMOVED, that event).
	published     *locov1.Instance
	last          *Event
	publishedAt   time.Time
	pendingHealth bool
	state         locov1.InstanceState
	reason        string
	since         time.Time
}

// New creates an empty registry.
func New(cfg Config) *Registry {
	cfg.defaults()
	return &Registry{cfg: cfg, entries: map[string]*entry{},
		feeds: map[*Feed]struct{}{}, compactAt: minCompact}
}

// Run flushes coalesced health events and marks silent agents unhealthy until ctx is done.
func (r *Registry) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			r.closeFeeds()
			return nil
		case <-t.C:
			r.tick()
		}
	}
}

func (r *Registry) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	for id, e := range r.entries {
		if e.target == nil {
			continue
		}
		if e.pendingHealth || (r.silent(e, now) && e.state != locov1.InstanceState_INSTANCE_STATE_UNHEALTHY) {
			r.refresh(id, e, now)
		}
	}
}

// silent reports an attached agent that has not reported health for longer than SilentAfter.
func (r *Registry) silent(e *entry, now time.Time) bool {
	switch {
	case e.hello == nil:
		return false
	case e.health == nil:
		return now.Sub(e.attachedAt) > r.cfg.SilentAfter
	}
	return now.Sub(e.healthAt) > r.cfg.SilentAfter
}

// Upsert implements discovery.Sink.
func (r *Registry) Upsert(t discovery.Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[t.ID]
	if e == nil {
		e = &entry{}
		r.entries[t.ID] = e
	}
	wasUntrusted := e.target == nil && e.hello != nil
	tc := t
	tc.Workload = proto.Clone(t.Workload).(*locov1.Workload)
	e.target = &tc
	if wasUntrusted {
		r.untrusted--
		r.cfg.Log.Info("agent now trusted: discovery knows its instance", "instance", t.ID)
	}
	r.refresh(t.ID, e, r.cfg.Now())
	r.updateGauges()
}

// Remove implements discovery.Sink: the instance is published once as GONE, then forgotten. An agent still
// attached for it is kept apart as untrusted until discovery names the id again.
func (r *Registry) Remove(id, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || e.target == nil {
		return
	}
	now := r.cfg.Now()
	if e.published != nil {
		inst := r.build(id, e, locov1.InstanceState_INSTANCE_STATE_GONE, why, now)
		r.publish(e, locov1.EventType_EVENT_TYPE_REMOVED, inst)
	}
	r.countState(e.state, -1)
	e.target = nil
	e.published = nil
	e.pendingHealth = false
	e.state = locov1.InstanceState_INSTANCE_STATE_UNSPECIFIED
	e.since = time.Time{}
	if e.hello == nil {
		delete(r.entries, id)
	} else {
		r.untrusted++
		r.cfg.Log.Warn("agent kept apart: its instance is no longer discovered", "instance", id)
	}
	r.updateGauges()
}

// Attach records that an agent attached for hello.InstanceId with stream generation gen (newer streams have higher
// generations). It reports whether the instance is known to discovery.
func (r *Registry) Attach(gen uint64, hello *locov1.AgentHello) (trusted bool) {
	id := hello.GetInstanceId()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil {
		e = &entry{}
		r.entries[id] = e
	}
	if e.hello != nil && e.agentGen > gen {
		return e.target != nil
	}
	if e.hello == nil && e.target == nil {
		r.untrusted++
	}
	now := r.cfg.Now()
	e.agentGen = gen
	e.hello = proto.Clone(hello).(*locov1.AgentHello)
	e.attachedAt = now
	e.health = nil
	e.healthAt = time.Time{}
	e.controller = nil
	if e.target == nil {
		r.cfg.Log.Warn("agent kept apart: discovery does not know its instance", "instance", id, "pod", hello.GetPod())
	} else {
		r.refresh(id, e, now)
	}
	r.updateGauges()
	return e.target != nil
}

// Detach records that the agent stream with generation gen ended. A stale generation (already replaced) is ignored.
func (r *Registry) Detach(id string, gen uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || e.hello == nil || e.agentGen != gen {
		return
	}
	e.hello, e.health, e.controller = nil, nil, nil
	if e.target == nil {
		r.untrusted--
		delete(r.entries, id)
	} else {
		r.refresh(id, e, r.cfg.Now())
	}
	r.updateGauges()
}

// ReportHealth records a health report from the agent stream gen.
func (r *Registry) ReportHealth(id string, gen uint64, h *locov1.HealthReport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || e.hello == nil || e.agentGen != gen {
		return
	}
	e.health = proto.Clone(h).(*locov1.HealthReport)
	e.healthAt = r.cfg.Now()
	if e.target != nil {
		r.refresh(id, e, e.healthAt)
	}
}

// SetController records who holds control, as reported by the agent stream gen.
func (r *Registry) SetController(id string, gen uint64, v *locov1.Viewer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || e.hello == nil || e.agentGen != gen {
		return
	}
	if v.GetId() == "" {
		v = nil
	} else {
		v = proto.Clone(v).(*locov1.Viewer)
	}
	e.controller = v
	if e.target != nil {
		r.refresh(id, e, r.cfg.Now())
	}
}

// Get returns a copy of one instance; false when discovery does not know id.
func (r *Registry) Get(id string) (*locov1.Instance, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || e.target == nil || e.published == nil {
		return nil, false
	}
	return proto.Clone(e.published).(*locov1.Instance), true
}

// Target returns what discovery said about id.
func (r *Registry) Target(id string) (discovery.Target, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries[id]
	if e == nil || e.target == nil {
		return discovery.Target{}, false
	}
	return *e.target, true
}

// List returns copies of every instance in grid order (ordinal, then id).
func (r *Registry) List() []*locov1.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.listLocked()
	for i, in := range out {
		out[i] = proto.Clone(in).(*locov1.Instance)
	}
	return out
}

// listLocked returns the published instances (shared, read-only) in grid order.
func (r *Registry) listLocked() []*locov1.Instance {
	es := r.publishedLocked()
	out := make([]*locov1.Instance, len(es))
	for i, e := range es {
		out[i] = e.published
	}
	return out
}

// publishedLocked returns the discovered entries with a published instance in grid order (ordinal, then id).
func (r *Registry) publishedLocked() []*entry {
	out := make([]*entry, 0, len(r.entries))
	for _, e := range r.entries {
		if e.target != nil && e.published != nil {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y *entry) int {
		a, b := x.published, y.published
		if c := cmp.Compare(a.Ordinal, b.Ordinal); c != 0 {
			return c
		}
		return strings.Compare(a.Id, b.Id)
	})
	return out
}

// Untrusted returns the ids of attached agents that discovery does not know, sorted.
func (r *Registry) Untrusted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for id, e := range r.entries {
		if e.target == nil && e.hello != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// derive computes the state of a discovered entry.
func (r *Registry) derive(e *entry, now time.Time) (locov1.InstanceState, string) {
	switch {
	case e.hello == nil:
		if e.target.Reason != "" {
			return locov1.InstanceState_INSTANCE_STATE_EXPECTED, e.target.Reason + ", agent not attached"
		}
		return locov1.InstanceState_INSTANCE_STATE_EXPECTED, "agent not attached"
	case e.health == nil:
		if r.silent(e, now) {
			return locov1.InstanceState_INSTANCE_STATE_UNHEALTHY,
				fmt.Sprintf("agent attached but sent no health report for more than %s", r.cfg.SilentAfter)
		}
		return locov1.InstanceState_INSTANCE_STATE_ATTACHED, "waiting for the first health report"
	}
	if r.silent(e, now) {
		return locov1.InstanceState_INSTANCE_STATE_UNHEALTHY,
			fmt.Sprintf("agent stopped reporting health for more than %s", r.cfg.SilentAfter)
	}
	reason := strings.Join(e.health.GetReasons(), "; ")
	switch e.health.GetVerdict() {
	case locov1.Verdict_VERDICT_HEALTHY:
		return locov1.InstanceState_INSTANCE_STATE_HEALTHY, reason
	case locov1.Verdict_VERDICT_DEGRADED:
		return locov1.InstanceState_INSTANCE_STATE_DEGRADED, reason
	case locov1.Verdict_VERDICT_UNHEALTHY:
		return locov1.InstanceState_INSTANCE_STATE_UNHEALTHY, reason
	}
	if reason == "" {
		reason = "agent has not measured health yet"
	}
	return locov1.InstanceState_INSTANCE_STATE_ATTACHED, reason
}

func (r *Registry) build(id string, e *entry, state locov1.InstanceState, reason string, now time.Time) *locov1.Instance {
	since := e.since
	if state != e.state || since.IsZero() {
		since = now
	}
	return &locov1.Instance{
		Id:         id,
		Ordinal:    e.target.Ordinal,
		State:      state,
		StateSince: timestamppb.New(since),
		Reason:     reason,
		Workload:   e.target.Workload,
		Agent:      e.hello,
		Health:     e.health,
		Controller: e.controller,
	}
}

// refresh re-derives a discovered entry and publishes what changed. Must hold r.mu.
func (r *Registry) refresh(id string, e *entry, now time.Time) {
	state, reason := r.derive(e, now)
	inst := r.build(id, e, state, reason, now)
	switch {
	case e.published == nil:
		r.commit(e, inst, now)
		r.publish(e, locov1.EventType_EVENT_TYPE_ADDED, inst)
	case structural(e.published, inst):
		r.commit(e, inst, now)
		r.publish(e, locov1.EventType_EVENT_TYPE_UPDATED, inst)
	case e.published.Health != inst.Health || e.published.Reason != inst.Reason:
		if now.Sub(e.publishedAt) >= r.cfg.HealthEvery {
			r.commit(e, inst, now)
			r.publish(e, locov1.EventType_EVENT_TYPE_UPDATED, inst)
		} else {
			e.pendingHealth = true
		}
	}
}

func (r *Registry) commit(e *entry, inst *locov1.Instance, now time.Time) {
	if inst.State != e.state {
		e.since = now
		r.countState(e.state, -1)
		r.countState(inst.State, 1)
	}
	e.state, e.reason = inst.State, inst.Reason
	e.published, e.publishedAt, e.pendingHealth = inst, now, false
}

// structural reports a change that is published at once: anything but health figures and the reason text.
func structural(old, cur *locov1.Instance) bool {
	return old.State != cur.State || old.Ordinal != cur.Ordinal ||
		old.Agent != cur.Agent || !proto.Equal(old.Workload, cur.Workload) ||
		!proto.Equal(old.Controller, cur.Controller)
}
