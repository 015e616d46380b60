package k8s

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/hack/kubetest"
)

// TestLocalOverlayOnKwok applies the local overlay to a control plane with kube-controller-manager, kube-scheduler
// and 3 kwok nodes: the StatefulSet's pods and the broker become Ready (one game per node: hostPort 8443); then,
// as the broker's ServiceAccount (a real token), everything its Role grants works and everything else is
// Forbidden; deleting a pod (recovery) gets it recreated by the StatefulSet controller.
func TestLocalOverlayOnKwok(t *testing.T) {
	rendered := renderAll(t)
	c := kubetest.Start(t, kubetest.Options{ControllerManager: true, Nodes: 3})
	// The whole test took 42 s at load average 5; a loaded machine may need several times that.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	if err := c.ProvisionVolumes(ctx, 3, "4Gi"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stream := rendered["overlay-local.yaml"]
	applyNamespaces(ctx, t, c, stream)
	if err := c.Apply(ctx, stream); err != nil {
		t.Fatal(err)
	}
	waitReady := func(what string) {
		t.Helper()
		var last string
		err := c.WaitFor(ctx, what, func() (bool, error) {
			sts, err := c.Kubectl(ctx, "get", "statefulset", "loco-emulator", "-n", "loco", "-o", "jsonpath={.status.readyReplicas}")
			if err != nil {
				last = err.Error()
				return false, nil
			}
			dep, err := c.Kubectl(ctx, "get", "deployment", "loco-broker", "-n", "loco", "-o", "jsonpath={.status.readyReplicas}")
			if err != nil {
				last = err.Error()
				return false, nil
			}
			last = "emulator ready " + sts + ", broker ready " + dep
			return sts == "3" && dep == "1", nil
		}, func() string {
			// ctx may be over: a fresh one for the diagnostics.
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			pods, _ := c.Kubectl(dctx, "get", "pods,pvc", "-n", "loco", "-o", "wide")
			return last + "\n" + pods
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitReady("3 emulators and the broker Ready")
	t.Logf("local overlay Ready on kwok %.1fs after apply", time.Since(start).Seconds())

	// One game per node: each pod publishes hostPort 8443.
	nodes, err := c.Kubectl(ctx, "get", "pods", "-n", "loco", "-l", "app.kubernetes.io/component=emulator",
		"-o", "jsonpath={range .items[*]}{.spec.nodeName} {end}")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, n := range strings.Fields(nodes) {
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Errorf("emulators on nodes %q, want 3 distinct nodes", nodes)
	}

	// The disruption controller agrees with the PodDisruptionBudget: one game may go at a time.
	err = c.WaitFor(ctx, "PodDisruptionBudget loco-emulator allows 1 disruption", func() (bool, error) {
		out, err := c.Kubectl(ctx, "get", "pdb", "loco-emulator", "-n", "loco", "-o",
			"jsonpath={.status.currentHealthy}/{.status.expectedPods} {.status.disruptionsAllowed}")
		return err == nil && out == "3/3 1", nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The broker's own ServiceAccount, with a real token, and the same identity impersonated.
	saConfig, err := c.ServiceAccountKubeconfig(ctx, "loco", "loco-broker")
	if err != nil {
		t.Fatal(err)
	}
	asConfig, err := c.ImpersonationKubeconfig(kubetest.ServiceAccountUser("loco", "loco-broker"),
		kubetest.ServiceAccountGroups("loco")...)
	if err != nil {
		t.Fatal(err)
	}
	selector := "app.kubernetes.io/name=loco,app.kubernetes.io/component=emulator"
	for _, kc := range []struct{ name, path string }{{"token", saConfig}, {"impersonated", asConfig}} {
		t.Run(kc.name, func(t *testing.T) {
			as := func(args ...string) (string, error) { return c.KubectlWith(ctx, kc.path, args...) }
			// Allowed: discovery (list, watch, get), events.
			out, err := as("get", "pods", "-n", "loco", "-l", selector, "-o", "name")
			if err != nil || len(strings.Fields(out)) != 3 {
				t.Errorf("list emulator pods: %q, %v", out, err)
			}
			if _, err := as("get", "--raw", "/api/v1/namespaces/loco/pods?watch=1&timeoutSeconds=1&labelSelector="+
				strings.ReplaceAll(selector, "/", "%2F")); err != nil {
				t.Errorf("watch pods: %v", err)
			}
			if _, err := as("get", "pod", "loco-emulator-0", "-n", "loco"); err != nil {
				t.Errorf("get pod: %v", err)
			}
			event := fmt.Sprintf(`{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"generateName":"loco-emulator-0-","namespace":"loco"},
"eventTime":"%s","reportingController":"loco.dev/broker","reportingInstance":"test","action":"Restart","reason":"Unhealthy",
"note":"test event","type":"Warning","regarding":{"kind":"Pod","namespace":"loco","name":"loco-emulator-0"}}`,
				time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"))
			if _, err := c.KubectlInput(ctx, kc.path, event, "create", "-f", "-"); err != nil {
				t.Errorf("create events.k8s.io Event: %v", err)
			}
			// Forbidden: everything else.
			for _, args := range [][]string{
				{"delete", "deployment", "loco-broker", "-n", "loco"},
				{"get", "secrets", "-n", "loco"},
				{"get", "configmaps", "-n", "loco"},
				{"create", "configmap", "x", "-n", "loco"},
				{"label", "pod", "loco-emulator-0", "-n", "loco", "x=y"},
				{"delete", "statefulset", "loco-emulator", "-n", "loco"},
				{"scale", "statefulset", "loco-emulator", "-n", "loco", "--replicas=1"},
				{"get", "pods", "-n", "kube-system"},
				{"get", "nodes"},
			} {
				if _, err := as(args...); !forbidden(err) {
					t.Errorf("kubectl %s: err = %v, want Forbidden", strings.Join(args, " "), err)
				}
			}
			// The legacy core/v1 Events API is not granted (the broker uses events.k8s.io/v1).
			core := `{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"x-","namespace":"loco"},` +
				`"involvedObject":{"kind":"Pod","name":"loco-emulator-0","namespace":"loco"},"reason":"x","message":"x"}`
			if _, err := c.KubectlInput(ctx, kc.path, core, "create", "-f", "-"); !forbidden(err) {
				t.Errorf("create core/v1 Event: err = %v, want Forbidden", err)
			}
		})
	}

	// Recovery's Kubernetes half: the broker deletes a pod, the StatefulSet controller recreates it, kwok runs it.
	uid, err := c.Kubectl(ctx, "get", "pod", "loco-emulator-1", "-n", "loco", "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.KubectlWith(ctx, saConfig, "delete", "pod", "loco-emulator-1", "-n", "loco", "--wait=false"); err != nil {
		t.Fatalf("broker deletes a pod: %v", err)
	}
	err = c.WaitFor(ctx, "loco-emulator-1 recreated and Ready", func() (bool, error) {
		out, err := c.Kubectl(ctx, "get", "pod", "loco-emulator-1", "-n", "loco", "-o",
			`jsonpath={.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil {
			return false, nil // briefly absent between deletion and recreation
		}
		f := strings.Fields(out)
		return len(f) == 2 && f[0] != uid && f[1] == "True", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitReady("all Ready again after the recovery")
}

// forbidden reports whether kubectl failed because RBAC denied the request.
func forbidden(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "forbidden")
}
