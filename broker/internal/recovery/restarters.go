package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
	"github.com/loco-cluster/loco/broker/internal/discovery"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Targets finds what discovery knows about an instance (implemented by the registry).
type Targets interface {
	Target(id string) (discovery.Target, bool)
}

// Event reasons recorded on pods.
const (
	EventReasonRestarted = "LocoRestarted"
	EventReasonDryRun    = "LocoRestartDryRun"
	EventReasonFailed    = "LocoRestartFailed"
)

// Kubernetes is the part of the Kubernetes API that a PodRestarter uses (implemented by kube.Client).
type Kubernetes interface {
	// DeletePod deletes a pod only if it still has the given UID.
	DeletePod(ctx context.Context, namespace, name string, uid types.UID) error
	// CreateEvent records an events.k8s.io/v1 Event.
	CreateEvent(ctx context.Context, ev *eventsv1.Event) error
}

// PodRestarter restarts an instance by deleting its pod (with the pod's UID as precondition, so a pod recreated
// under the same name is never hit) and records a Kubernetes Event on the pod.
type PodRestarter struct {
	client   Kubernetes
	targets  Targets
	log      *slog.Logger
	instance string
}

// NewPodRestarter creates a PodRestarter; instance names this broker in Events (its pod name or host name).
func NewPodRestarter(client Kubernetes, targets Targets, instance string, log *slog.Logger) *PodRestarter {
	return &PodRestarter{client: client, targets: targets, instance: instance, log: log}
}

// Restart implements Restarter.
func (p *PodRestarter) Restart(ctx context.Context, inst *locov1.Instance, reason string, dryRun bool) (string, error) {
	t, ok := p.targets.Target(inst.GetId())
	if !ok || t.Workload.GetPod() == "" || t.UID == "" {
		return "", fmt.Errorf("instance %q: %w", inst.GetId(), ErrNoPod)
	}
	ns, pod := t.Workload.GetNamespace(), t.Workload.GetPod()
	if dryRun {
		p.event(ctx, t, corev1.EventTypeNormal, EventReasonDryRun, "dry run, would delete the pod: "+reason)
		return "pod would be deleted (dry run)", nil
	}
	if err := p.client.DeletePod(ctx, ns, pod, types.UID(t.UID)); err != nil {
		p.event(ctx, t, corev1.EventTypeWarning, EventReasonFailed, fmt.Sprintf("deleting the pod failed: %v (%s)", err, reason))
		return "", fmt.Errorf("delete pod %s/%s: %w", ns, pod, err)
	}
	p.event(ctx, t, corev1.EventTypeWarning, EventReasonRestarted, "pod deleted: "+reason)
	return "pod deleted", nil
}

// event records an events.k8s.io/v1 Event about the pod (the API the broker's Role grants).
func (p *PodRestarter) event(ctx context.Context, t discovery.Target, typ, reason, note string) {
	ns := t.Workload.GetNamespace()
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", t.Workload.GetPod(), time.Now().UnixNano()), Namespace: ns},
		EventTime:  metav1.NewMicroTime(time.Now()),
		Regarding: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: t.Workload.GetPod(), UID: types.UID(t.UID),
		},
		Reason: reason, Note: truncate(note, 1000), Type: typ, Action: "Restart",
		ReportingController: ReportingController, ReportingInstance: p.instance,
	}
	if err := p.client.CreateEvent(ctx, ev); err != nil {
		p.log.Error("record event", "pod", t.Workload.GetPod(), "reason", reason, "err", err)
	}
}

// ReportingController names the broker in the Events it records.
const ReportingController = "loco-cluster.io/broker"

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Agents finds an instance's Attach stream (implemented by agentlink.Hub).
type Agents interface {
	Conn(id string) (*agentlink.Conn, bool)
}

// AgentRestarter restarts an instance by asking its agent to restart QEMU over the Attach stream (local mode).
type AgentRestarter struct {
	agents  Agents
	timeout time.Duration
}

// NewAgentRestarter creates an AgentRestarter that waits up to timeout for the agent to confirm.
func NewAgentRestarter(agents Agents, timeout time.Duration) *AgentRestarter {
	return &AgentRestarter{agents: agents, timeout: timeout}
}

// Restart implements Restarter.
func (a *AgentRestarter) Restart(ctx context.Context, inst *locov1.Instance, reason string, dryRun bool) (string, error) {
	conn, ok := a.agents.Conn(inst.GetId())
	if !ok {
		return "", fmt.Errorf("instance %q: %w", inst.GetId(), ErrNotAttached)
	}
	if dryRun {
		return "qemu would be restarted (dry run)", nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	err := conn.Restart(ctx, locov1.RestartKind_RESTART_KIND_RESTART_QEMU, reason)
	switch {
	case err == nil:
		return "qemu restarted", nil
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		// A graceful QEMU stop may outlast the wait; the request stands.
		return "qemu restart requested, not confirmed yet", nil
	}
	return "", err
}
