package daemon_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/recovery"
	"github.com/loco-cluster/loco/hack/kubetest"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// TestKubernetesStatefulSetRecovery runs the whole loop with kube-controller-manager and kwok (fake kubelets): a
// StatefulSet's pods become Ready, the broker discovers them, one agent turns unhealthy, the broker deletes that
// pod, the StatefulSet controller recreates it, and the instance comes back healthy under the same id.
func TestKubernetesStatefulSetRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	t0 := time.Now()
	c := kubetest.Start(t, kubetest.Options{ControllerManager: true, Nodes: 1})
	t.Logf("cluster up in %s", time.Since(t0).Round(time.Millisecond))
	admin := clientFor(t, c.Kubeconfig)
	const ns = "loco"
	saConfig := setupNamespace(t, ctx, c, admin, ns)

	replicas := int32(2)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "loco-emulator", Namespace: ns, Labels: emulatorLabels},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas, ServiceName: "loco-emulator", PodManagementPolicy: appsv1.ParallelPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: emulatorLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: emulatorLabels},
				Spec: corev1.PodSpec{
					Containers:                    []corev1.Container{{Name: "agent", Image: "example.invalid/loco-emulator:test"}},
					TerminationGracePeriodSeconds: new(int64),
				},
			},
		},
	}
	if _, err := admin.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, "", func(cfg *config.Broker) {
		cfg.Discovery, cfg.Namespace, cfg.Selector, cfg.Kubeconfig = "kubernetes", ns, discovery.DefaultSelector, saConfig
		cfg.Recover, cfg.RecoverAfter, cfg.RecoverBackoff = recovery.ModeOn, time.Second, time.Minute
	}, daemon.Options{RecoverInterval: 100 * time.Millisecond})
	var agents []*agenttest.Agent
	for _, id := range []string{"loco-emulator-0", "loco-emulator-1"} {
		agents = append(agents, startAgent(t, agenttest.Config{ID: id, Broker: b.grpc, HealthEvery: 100 * time.Millisecond}))
	}
	healthyReady := func(id string) bool {
		in, ok := b.Registry.Get(id)
		return ok && in.State == locov1.InstanceState_INSTANCE_STATE_HEALTHY && in.Workload.GetReady()
	}
	waitFor(t, 90*time.Second, "both StatefulSet pods Ready and healthy", func() bool {
		return healthyReady("loco-emulator-0") && healthyReady("loco-emulator-1")
	})
	t.Logf("pods Ready and healthy %s after start", time.Since(t0).Round(time.Millisecond))
	in1, _ := b.Registry.Get("loco-emulator-1")
	if in1.Ordinal != 1 || in1.Workload.Node != "kwok-node-0" || in1.Workload.Address == "" {
		t.Errorf("discovered workload: %v (ordinal %d)", in1.Workload, in1.Ordinal)
	}
	uid := func(name string) types.UID {
		p, err := admin.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return p.UID
	}
	uid0, uid1 := uid("loco-emulator-0"), uid("loco-emulator-1")

	agents[1].SetVerdict(locov1.Verdict_VERDICT_UNHEALTHY)
	waitFor(t, 30*time.Second, "loco-emulator-1 deleted and recreated", func() bool {
		u := uid("loco-emulator-1")
		return u != "" && u != uid1
	})
	t.Logf("pod recreated %s after start", time.Since(t0).Round(time.Millisecond))
	// The new pod's agent is a fresh one: healthy.
	agents[1].SetVerdict(locov1.Verdict_VERDICT_HEALTHY)
	// kwok takes 20-30 s to run a pod recreated under a known name; play its kubelet part at once instead.
	if err := kubelet(ctx, admin, ns, "loco-emulator-1", true, "127.2.0.99"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the recreated instance Ready and healthy", func() bool { return healthyReady("loco-emulator-1") })
	t.Logf("recreated instance healthy %s after start", time.Since(t0).Round(time.Millisecond))
	if uid("loco-emulator-0") != uid0 {
		t.Error("the healthy pod was replaced too")
	}
	if n := podEvents(t, ctx, admin, ns, "loco-emulator-1", recovery.EventReasonRestarted); n != 1 {
		t.Errorf("%d restart Events on loco-emulator-1, want 1", n)
	}
}
