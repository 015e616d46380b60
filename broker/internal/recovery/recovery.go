// Package recovery restarts instances that stay unhealthy: an instance whose registry state has been UNHEALTHY (the
// agent's measured verdict, or an attached agent that went silent) for longer than After is restarted through a
// Restarter (in Kubernetes its pod is deleted and the StatefulSet recreates it; locally the agent restarts QEMU).
// Restarts of one instance are spaced by an exponential back-off, at most a fraction of all instances are being
// recovered at once, and every action is counted in a metric (and, in Kubernetes, recorded as an Event on the pod).
package recovery

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Mode says whether recovery acts.
type Mode int

const (
	// ModeOff never restarts anything.
	ModeOff Mode = iota
	// ModeDryRun logs, counts and records what it would do, and does nothing.
	ModeDryRun
	// ModeOn restarts.
	ModeOn
)

// ParseMode parses "off", "dry-run" or "on".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "off":
		return ModeOff, nil
	case "dry-run":
		return ModeDryRun, nil
	case "on":
		return ModeOn, nil
	}
	return ModeOff, fmt.Errorf("recover mode %q (want off, dry-run or on): %w", s, ErrBadMode)
}

func (m Mode) String() string {
	switch m {
	case ModeDryRun:
		return "dry-run"
	case ModeOn:
		return "on"
	}
	return "off"
}

// Restarter carries out a restart.
type Restarter interface {
	// Restart restarts the instance and returns what it did ("pod deleted", "qemu restarted"). With dryRun it
	// changes nothing and returns what it would have done.
	Restart(ctx context.Context, inst *locov1.Instance, reason string, dryRun bool) (action string, err error)
}

// Instances lists the registry's instances (implemented by registry.Registry).
type Instances interface {
	List() []*locov1.Instance
	Get(id string) (*locov1.Instance, bool)
}

// Config tunes the recovery loop.
type Config struct {
	// Mode says whether to act. Default off.
	Mode Mode
	// After is how long an instance must stay unhealthy before it is restarted. Default 90s.
	After time.Duration
	// Backoff is the minimum time between two restarts of one instance; it doubles with each restart that did not
	// bring the instance back to health for long. Default 60s.
	Backoff time.Duration
	// MaxBackoff caps the doubling. Default 32 × Backoff.
	MaxBackoff time.Duration
	// MaxFraction is the largest fraction of all instances being recovered at the same time (at least one).
	// Default 0.25.
	MaxFraction float64
	// Interval is how often the registry is examined. Default 1s.
	Interval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.After <= 0 {
		c.After = 90 * time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 60 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 32 * c.Backoff
	}
	if c.MaxFraction <= 0 || c.MaxFraction > 1 {
		c.MaxFraction = 0.25
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// track is the recovery history of one instance id.
type track struct {
	restarts   int
	last       time.Time
	recovering bool
	healthyAt  time.Time
}

// Loop is the recovery loop.
type Loop struct {
	cfg       Config
	instances Instances
	restarter Restarter
	log       *slog.Logger
	metrics   *Metrics
	tracks    map[string]*track
}

// New creates the loop.
func New(cfg Config, instances Instances, restarter Restarter, log *slog.Logger, m *Metrics) *Loop {
	cfg.defaults()
	return &Loop{cfg: cfg, instances: instances, restarter: restarter, log: log, metrics: m, tracks: map[string]*track{}}
}

// Run examines the registry every Interval until ctx is done. In ModeOff it only waits.
func (l *Loop) Run(ctx context.Context) error {
	if l.cfg.Mode == ModeOff {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(l.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			l.Evaluate(ctx)
		}
	}
}

// backoff is the wait required after the n-th restart (n ≥ 1).
func (l *Loop) backoff(n int) time.Duration {
	d := float64(l.cfg.Backoff) * math.Pow(2, float64(n-1))
	if d > float64(l.cfg.MaxBackoff) {
		return l.cfg.MaxBackoff
	}
	return time.Duration(d)
}

// Evaluate examines every instance once and restarts those that qualify.
func (l *Loop) Evaluate(ctx context.Context) {
	now := l.cfg.Now()
	insts := l.instances.List()
	inFlight := 0
	for _, in := range insts {
		tr := l.tracks[in.Id]
		if tr == nil {
			continue
		}
		switch in.State {
		case locov1.InstanceState_INSTANCE_STATE_HEALTHY, locov1.InstanceState_INSTANCE_STATE_DEGRADED:
			if tr.recovering {
				tr.recovering = false
				tr.healthyAt = now
				l.log.Info("recovered", "instance", in.Id, "after", now.Sub(tr.last).Round(time.Second))
			}
			// Healthy for a whole back-off period: the history is forgiven.
			if !tr.healthyAt.IsZero() && now.Sub(tr.healthyAt) >= l.backoff(tr.restarts) {
				delete(l.tracks, in.Id)
				continue
			}
		default:
			tr.healthyAt = time.Time{}
		}
		// A restart that did not bring the instance back within After no longer holds a slot.
		if tr.recovering && now.Sub(tr.last) > l.cfg.After {
			tr.recovering = false
		}
		if tr.recovering {
			inFlight++
		}
	}
	limit := max(1, int(math.Floor(l.cfg.MaxFraction*float64(len(insts)))))
	for _, in := range insts {
		if in.State != locov1.InstanceState_INSTANCE_STATE_UNHEALTHY {
			continue
		}
		unhealthyFor := now.Sub(in.GetStateSince().AsTime())
		if unhealthyFor < l.cfg.After {
			continue
		}
		tr := l.tracks[in.Id]
		if tr != nil && tr.restarts > 0 && now.Sub(tr.last) < l.backoff(tr.restarts) {
			continue
		}
		others := inFlight
		if tr != nil && tr.recovering {
			others-- // its own earlier restart does not hold it back
		}
		if others >= limit {
			l.metrics.skip("max_fraction")
			continue
		}
		if tr == nil {
			tr = &track{}
			l.tracks[in.Id] = tr
		}
		if !tr.recovering {
			inFlight++
		}
		reason := fmt.Sprintf("recovery: unhealthy for %s (%s)", unhealthyFor.Round(time.Second), in.Reason)
		dry := l.cfg.Mode == ModeDryRun
		action, err := l.restarter.Restart(ctx, in, reason, dry)
		tr.restarts++
		tr.last = now
		tr.recovering = true
		l.metrics.count(l.cfg.Mode.String(), err)
		if err != nil {
			l.log.Error("recovery failed", "instance", in.Id, "reason", reason, "err", err)
			continue
		}
		l.log.Warn("recovery", "instance", in.Id, "mode", l.cfg.Mode, "action", action, "reason", reason,
			"restarts", tr.restarts, "next_allowed_in", l.backoff(tr.restarts))
	}
	for id := range l.tracks {
		if _, ok := l.instances.Get(id); !ok && now.Sub(l.tracks[id].last) > l.cfg.MaxBackoff {
			delete(l.tracks, id)
		}
	}
}

// Manual restarts an instance at an operator's request (HTTP API, Ops gRPC): no delay, no rate limit, counted as
// mode "manual".
func (l *Loop) Manual(ctx context.Context, id, reason string) (string, error) {
	in, ok := l.instances.Get(id)
	if !ok {
		return "", fmt.Errorf("instance %q: %w", id, ErrUnknownInstance)
	}
	if reason == "" {
		reason = "requested by an operator"
	}
	action, err := l.restarter.Restart(ctx, in, reason, false)
	l.metrics.count("manual", err)
	if err != nil {
		return "", err
	}
	l.log.Info("manual restart", "instance", id, "action", action, "reason", reason)
	return action, nil
}
