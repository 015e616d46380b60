package daemon_test

import (
	"context"

	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/recovery"
	"github.com/loco-cluster/loco/hack/kubetest"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// deployBase is deploy/base, where the broker's Role lives.
var deployBase = filepath.Join("..", "..", "..", "deploy", "base")

var emulatorLabels = map[string]string{"app.kubernetes.io/name": "loco", "app.kubernetes.io/component": "emulator"}

func clientFor(t testing.TB, kubeconfig string) kubernetes.Interface {
	t.Helper()
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 200, 400
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setupNamespace creates ns with the broker's ServiceAccount, Role and RoleBinding from deploy/base and returns a
// kubeconfig holding a real token of that ServiceAccount.
func setupNamespace(t testing.TB, ctx context.Context, c *kubetest.Cluster, admin kubernetes.Interface, ns string) string {
	t.Helper()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Without kube-controller-manager nobody creates the default ServiceAccount that pods need.
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for _, f := range []string{"broker-serviceaccount.yaml", "broker-rbac.yaml"} {
		b, err := os.ReadFile(filepath.Join(deployBase, f))
		if err != nil {
			t.Fatalf("the broker's RBAC from deploy/base: %v", err)
		}
		if _, err := c.KubectlInput(ctx, c.Kubeconfig, string(b), "apply", "-n", ns, "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	kc, err := c.ServiceAccountKubeconfig(ctx, ns, "loco-broker")
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func emulatorPod(ns string, i int) *corev1.Pod {
	name := fmt.Sprintf("loco-emulator-%d", i)
	labels := map[string]string{"apps.kubernetes.io/pod-index": fmt.Sprint(i)}
	for k, v := range emulatorLabels {
		labels[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "agent", Image: "example.invalid/loco-emulator:test"}},
			TerminationGracePeriodSeconds: new(int64),
		},
	}
}

// kubelet plays the kubelet's part: it sets the pod's phase, readiness and IP.
func kubelet(ctx context.Context, admin kubernetes.Interface, ns, name string, ready bool, ip string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error { return setPodStatus(ctx, admin, ns, name, ready, ip) })
}

func setPodStatus(ctx context.Context, admin kubernetes.Interface, ns, name string, ready bool, ip string) error {
	p, err := admin.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st, LastTransitionTime: metav1.Now()}}
	_, err = admin.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	return err
}

// nextFor returns the next SSE event about id.
func nextFor(t *testing.T, evs <-chan sseEvent, id string, timeout time.Duration) *locov1.WatchInstancesResponse {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("event stream ended")
			}
			if ev.msg.Instance.GetId() == id {
				return ev.msg
			}
		case <-deadline:
			t.Fatalf("no event about %s within %s", id, timeout)
		}
	}
}

func podEvents(t *testing.T, ctx context.Context, admin kubernetes.Interface, ns, pod, reason string) int {
	t.Helper()
	list, err := admin.EventsV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Name == pod && e.Reason == reason && e.Regarding.Kind == "Pod" && e.ReportingController == recovery.ReportingController {
			n++
		}
	}
	return n
}

// TestKubernetes runs the broker against a real kube-apiserver, authenticated as its ServiceAccount with exactly the
// Role of deploy/base, and plays the kubelet: discovery follows pods appearing, turning Ready, losing readiness and
// disappearing (and one created before the broker started); recovery deletes exactly the unhealthy pod, respects
// its back-off and records an Event; in dry-run it deletes nothing.
func TestKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := kubetest.Start(t, kubetest.Options{})
	admin := clientFor(t, c.Kubeconfig)
	const ns = "loco"
	saConfig := setupNamespace(t, ctx, c, admin, ns)

	t.Run("rbac is exactly what the broker needs", func(t *testing.T) {
		role, err := admin.RbacV1().Roles(ns).Get(ctx, "loco-broker", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := flattenRules(role.Rules), flattenRules(daemon.RequiredRules()); !slices.Equal(got, want) {
			t.Errorf("deploy/base Role grants\n  %v\nthe broker uses\n  %v", got, want)
		}
		for _, probe := range [][]string{
			{"get", "secrets"}, {"create", "pods"}, {"patch", "pods"}, {"update", "pods/status"},
			{"delete", "statefulsets.apps"}, {"create", "events"}, {"list", "pods", "-n", "default"},
		} {
			args := append([]string{"auth", "can-i"}, probe...)
			if !slices.Contains(probe, "-n") {
				args = append(args, "-n", ns)
			}
			if out, _ := c.KubectlWith(ctx, saConfig, args...); strings.TrimSpace(out) != "no" {
				t.Errorf("the broker may %v (%q)", probe, out)
			}
		}
	})

	// A pod that exists, Ready, before the broker starts.
	if _, err := admin.CoreV1().Pods(ns).Create(ctx, emulatorPod(ns, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kubelet(ctx, admin, ns, "loco-emulator-0", true, "10.1.0.10"); err != nil {
		t.Fatal(err)
	}
	// A pod of something else in the namespace: not an instance.
	other := emulatorPod(ns, 9)
	other.Name, other.Labels = "unrelated", map[string]string{"app.kubernetes.io/name": "other"}
	if _, err := admin.CoreV1().Pods(ns).Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	b := startBroker(t, "", func(cfg *config.Broker) {
		cfg.Discovery, cfg.Namespace, cfg.Selector, cfg.Kubeconfig = "kubernetes", ns, discovery.DefaultSelector, saConfig
		cfg.Recover, cfg.RecoverAfter, cfg.RecoverBackoff = recovery.ModeOn, time.Second, 4*time.Second
		cfg.RecoverMaxFraction = 1
	}, daemon.Options{RecoverInterval: 100 * time.Millisecond})
	evCtx, evCancel := context.WithCancel(ctx)
	defer evCancel()
	evs := openEvents(t, evCtx, b.base)

	t.Run("discovery", func(t *testing.T) {
		first := <-evs
		if first.msg.Type != locov1.EventType_EVENT_TYPE_SNAPSHOT || first.msg.Instance.Id != "loco-emulator-0" ||
			!first.msg.Instance.Workload.Ready || first.msg.Instance.Workload.Address != "10.1.0.10" {
			t.Fatalf("snapshot: %v", first.msg)
		}
		if n := len(b.Registry.List()); n != 1 {
			t.Fatalf("%d instances, want 1 (the unrelated pod is not one)", n)
		}
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, emulatorPod(ns, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ev := nextFor(t, evs, "loco-emulator-1", 30*time.Second)
		if ev.Type != locov1.EventType_EVENT_TYPE_ADDED || ev.Instance.Workload.Ready || ev.Instance.Ordinal != 1 ||
			ev.Instance.State != locov1.InstanceState_INSTANCE_STATE_EXPECTED {
			t.Fatalf("new pending pod: %v", ev)
		}
		// Ready and back, 50 times: each change reaches the event stream; the time is logged.
		var lat []time.Duration
		for i := range 50 {
			start := time.Now()
			if err := kubelet(ctx, admin, ns, "loco-emulator-1", true, "10.1.0.11"); err != nil {
				t.Fatal(err)
			}
			ev = nextFor(t, evs, "loco-emulator-1", 30*time.Second)
			lat = append(lat, time.Since(start))
			if !ev.Instance.Workload.Ready || ev.Instance.Workload.Address != "10.1.0.11" || ev.Type != locov1.EventType_EVENT_TYPE_UPDATED {
				t.Fatalf("round %d: after Ready: %v", i, ev)
			}
			if err := kubelet(ctx, admin, ns, "loco-emulator-1", false, "10.1.0.11"); err != nil {
				t.Fatal(err)
			}
			if ev = nextFor(t, evs, "loco-emulator-1", 30*time.Second); ev.Instance.Workload.Ready {
				t.Fatalf("round %d: still ready after losing readiness: %v", i, ev)
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("pod Ready (status write) to SSE event: median %s, min %s, max %s over %d",
			lat[len(lat)/2], lat[0], lat[len(lat)-1], len(lat))
		if err := admin.CoreV1().Pods(ns).Delete(ctx, "loco-emulator-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		ev = nextFor(t, evs, "loco-emulator-1", 30*time.Second)
		if ev.Type != locov1.EventType_EVENT_TYPE_REMOVED || ev.Instance.State != locov1.InstanceState_INSTANCE_STATE_GONE {
			t.Fatalf("deleted pod: %v", ev)
		}
		if _, ok := b.Registry.Get("loco-emulator-1"); ok {
			t.Error("deleted pod still an instance")
		}
	})

	t.Run("recovery", func(t *testing.T) {
		for i := 2; i <= 3; i++ {
			if _, err := admin.CoreV1().Pods(ns).Create(ctx, emulatorPod(ns, i), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := kubelet(ctx, admin, ns, fmt.Sprintf("loco-emulator-%d", i), true, fmt.Sprintf("10.1.0.%d", 10+i)); err != nil {
				t.Fatal(err)
			}
		}
		sick := startAgent(t, agenttest.Config{ID: "loco-emulator-2", Broker: b.grpc, HealthEvery: 100 * time.Millisecond})
		startAgent(t, agenttest.Config{ID: "loco-emulator-3", Broker: b.grpc, HealthEvery: 100 * time.Millisecond})
		waitFor(t, 30*time.Second, "both agents healthy", func() bool {
			a, _ := b.Registry.Get("loco-emulator-2")
			c, _ := b.Registry.Get("loco-emulator-3")
			return a.GetState() == locov1.InstanceState_INSTANCE_STATE_HEALTHY && c.GetState() == locov1.InstanceState_INSTANCE_STATE_HEALTHY
		})
		old, err := admin.CoreV1().Pods(ns).Get(ctx, "loco-emulator-2", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sick.SetVerdict(locov1.Verdict_VERDICT_UNHEALTHY)
		sickSince := time.Now()
		waitFor(t, 30*time.Second, "the unhealthy pod deleted", func() bool {
			_, err := admin.CoreV1().Pods(ns).Get(ctx, "loco-emulator-2", metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		if d := time.Since(sickSince); d < time.Second {
			t.Errorf("pod deleted %s after turning unhealthy, before --recover-after (1s)", d)
		}
		for _, keep := range []string{"loco-emulator-0", "loco-emulator-3", "unrelated"} {
			if _, err := admin.CoreV1().Pods(ns).Get(ctx, keep, metav1.GetOptions{}); err != nil {
				t.Errorf("pod %s: %v (only the unhealthy pod may be deleted)", keep, err)
			}
		}
		firstDeleted := time.Now()
		waitFor(t, 30*time.Second, "an Event on the deleted pod", func() bool {
			return podEvents(t, ctx, admin, ns, "loco-emulator-2", recovery.EventReasonRestarted) == 1
		})

		// The StatefulSet's part: the pod comes back under the same name; the agent is still unhealthy. The next
		// restart waits for the back-off (4s after the first).
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, emulatorPod(ns, 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := kubelet(ctx, admin, ns, "loco-emulator-2", true, "10.1.0.12"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 40*time.Second, "the recreated, still unhealthy pod deleted again", func() bool {
			p, err := admin.CoreV1().Pods(ns).Get(ctx, "loco-emulator-2", metav1.GetOptions{})
			if err == nil && p.UID == old.UID {
				t.Fatal("old pod UID seen again")
			}
			return apierrors.IsNotFound(err)
		})
		restartedAfter := time.Since(firstDeleted)
		t.Logf("second restart seen %s after the first (back-off 4s)", restartedAfter.Round(10*time.Millisecond))
		// The recovery deletes the pod, then records the Event: the Event may land a moment after the deletion.
		waitFor(t, 30*time.Second, "a second restart Event on the pod", func() bool {
			return podEvents(t, ctx, admin, ns, "loco-emulator-2", recovery.EventReasonRestarted) == 2
		})
		if restartedAfter < 3500*time.Millisecond {
			t.Errorf("second restart only %s after the first: back-off (4s) not respected", restartedAfter)
		}
	})

	t.Run("dry-run deletes nothing", func(t *testing.T) {
		const dns = "loco-dry"
		dryConfig := setupNamespace(t, ctx, c, admin, dns)
		if _, err := admin.CoreV1().Pods(dns).Create(ctx, emulatorPod(dns, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := kubelet(ctx, admin, dns, "loco-emulator-0", true, "10.2.0.10"); err != nil {
			t.Fatal(err)
		}
		dry := startBroker(t, "", func(cfg *config.Broker) {
			cfg.Discovery, cfg.Namespace, cfg.Selector, cfg.Kubeconfig = "kubernetes", dns, discovery.DefaultSelector, dryConfig
			cfg.Recover, cfg.RecoverAfter, cfg.RecoverBackoff = recovery.ModeDryRun, 500*time.Millisecond, time.Minute
		}, daemon.Options{RecoverInterval: 100 * time.Millisecond})
		a := startAgent(t, agenttest.Config{ID: "loco-emulator-0", Broker: dry.grpc, HealthEvery: 100 * time.Millisecond})
		a.SetVerdict(locov1.Verdict_VERDICT_UNHEALTHY)
		waitFor(t, 30*time.Second, "a dry-run Event", func() bool {
			return podEvents(t, ctx, admin, dns, "loco-emulator-0", recovery.EventReasonDryRun) == 1
		})
		time.Sleep(time.Second)
		p, err := admin.CoreV1().Pods(dns).Get(ctx, "loco-emulator-0", metav1.GetOptions{})
		if err != nil || p.DeletionTimestamp != nil {
			t.Fatalf("dry run touched the pod: %v", err)
		}
		if n := podEvents(t, ctx, admin, dns, "loco-emulator-0", recovery.EventReasonRestarted); n != 0 {
			t.Errorf("%d restart Events in dry-run", n)
		}
	})
}

// flattenRules renders rules as sorted "group/resource:verb" strings.
func flattenRules(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, g+"/"+res+":"+v)
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}
