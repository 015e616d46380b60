package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/hack/kubetest"
)

// dryRun applies manifests with `kubectl apply --server-side --dry-run=server` and returns the objects as the
// apiserver would store them.
func dryRun(ctx context.Context, t *testing.T, c *kubetest.Cluster, manifests string, args ...string) []object {
	t.Helper()
	out, err := c.KubectlInput(ctx, c.Kubeconfig, manifests, append([]string{"apply", "--server-side",
		"--dry-run=server", "--field-manager=loco-test", "-o", "json", "-f", "-"}, args...)...)
	if err != nil {
		t.Fatalf("dry-run rejected: %v", err)
	}
	var l struct {
		Kind  string   `json:"kind"`
		Items []object `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("parse dry-run output: %v\n%.500s", err, out)
	}
	if l.Kind != "List" {
		var single object
		if err := json.Unmarshal([]byte(out), &single); err != nil {
			t.Fatal(err)
		}
		return []object{single}
	}
	return l.Items
}

// applyNamespaces really creates (server-side applies) the Namespace documents of a stream, so namespaced objects
// can be dry-run into them and Pod Security admission sees their labels.
func applyNamespaces(ctx context.Context, t *testing.T, c *kubetest.Cluster, stream string) {
	t.Helper()
	var ns []string
	for _, d := range splitDocs(stream) {
		if topField(d, "kind") == "Namespace" {
			ns = append(ns, d)
		}
	}
	if len(ns) == 0 {
		return
	}
	if _, err := c.KubectlInput(ctx, c.Kubeconfig, strings.Join(ns, "\n---\n"), "apply", "--server-side",
		"--force-conflicts", "--field-manager=loco-test", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// find returns the object of that kind and name.
func find(objs []object, kind, name string) object {
	for _, o := range objs {
		meta, _ := o["metadata"].(object)
		if o["kind"] == kind && meta["name"] == name {
			return o
		}
	}
	return nil
}

// podFromTemplate makes a Pod of a workload's template, for Pod Security admission (which only enforces on pods).
func podFromTemplate(o object, namespace string) string {
	spec, _ := o["spec"].(object)
	tmpl, _ := spec["template"].(object)
	meta, _ := o["metadata"].(object)
	podSpec, _ := tmpl["spec"].(object)
	// A StatefulSet's controller adds a claim volume per volumeClaimTemplate; add a stand-in.
	for _, vct := range list(spec["volumeClaimTemplates"]) {
		m, _ := vct["metadata"].(object)
		volumes, _ := podSpec["volumes"].([]any)
		podSpec["volumes"] = append(volumes, object{"name": m["name"], "emptyDir": object{}})
	}
	pod := object{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": object{"name": fmt.Sprintf("psa-%v", meta["name"]), "namespace": namespace},
		"spec":     podSpec,
	}
	b, _ := json.Marshal(pod)
	return string(b)
}

// TestManifestsAcceptedByAPIServer renders every overlay and the Helm chart (hack/manifests, which also runs
// `helm lint --strict`), has a real kube-apiserver accept all of it with a server-side dry-run, checks the pod
// policy on what the server would store, and has Pod Security admission ("restricted", enforced in the prod
// namespace) admit the prod pods.
func TestManifestsAcceptedByAPIServer(t *testing.T) {
	rendered := renderAll(t)
	// Privileged pods are allowed by this apiserver (unlike the default) so that the privileged NFS server extra
	// and the policy's bad examples reach the policy check, which is the gate.
	c := kubetest.Start(t, kubetest.Options{APIServerArgs: []string{"--allow-privileged=true"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	crd, err := os.ReadFile(filepath.Join("testdata", "servicemonitor-crd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.KubectlInput(ctx, c.Kubeconfig, string(crd), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/servicemonitors.monitoring.coreos.com"); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"loco", "helm-default", "helm-prod"} {
		if _, err := c.Kubectl(ctx, "create", "namespace", ns); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		file, namespace string // namespace: for the Helm renders, which name none
		replicas        float64
	}{
		{"overlay-local.yaml", "", 3},
		{"overlay-dev.yaml", "", 3},
		{"overlay-prod.yaml", "", 9},
		{"extras-nfs-server.yaml", "", -1},
		{"helm-default.yaml", "helm-default", 3},
		{"helm-prod.yaml", "helm-prod", 9},
	}
	served := map[string][]object{} // file -> objects as the server would store them
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(tc.file, ".yaml"), func(t *testing.T) {
			stream := rendered[tc.file]
			applyNamespaces(ctx, t, c, stream)
			var args []string
			if tc.namespace != "" {
				args = []string{"-n", tc.namespace}
			}
			objs := dryRun(ctx, t, c, stream, args...)
			served[tc.file] = objs
			if want := len(splitDocs(stream)); len(objs) != want {
				t.Errorf("dry-run returned %d objects, rendered %d", len(objs), want)
			}
			for _, v := range checkPolicy(objs) {
				t.Errorf("policy: %s", v)
			}
			if tc.replicas < 0 {
				return
			}
			var sts object
			for _, o := range objs {
				if o["kind"] == "StatefulSet" {
					sts = o
				}
			}
			if sts == nil {
				t.Fatal("no StatefulSet rendered")
			}
			spec, _ := sts["spec"].(object)
			if spec["replicas"] != tc.replicas || spec["podManagementPolicy"] != "Parallel" {
				t.Errorf("StatefulSet replicas %v, podManagementPolicy %v; want %v, Parallel",
					spec["replicas"], spec["podManagementPolicy"], tc.replicas)
			}
			checkBrokerRole(t, objs)
			for _, p := range checkTowns(objs) {
				t.Errorf("network play / art: %s", p)
			}
		})
	}

	// The Helm chart deploys what the overlays deploy: local <-> default values, prod <-> values-prod.yaml.
	for _, pair := range [][2]string{{"overlay-local.yaml", "helm-default.yaml"}, {"overlay-prod.yaml", "helm-prod.yaml"}} {
		t.Run("parity-"+strings.TrimSuffix(pair[1], ".yaml"), func(t *testing.T) {
			a, b := served[pair[0]], served[pair[1]]
			if a == nil || b == nil {
				t.Fatalf("%s or %s was not accepted by the apiserver (see above): no parity to compare", pair[0], pair[1])
			}
			for _, d := range parity(a, b) {
				t.Errorf("%s vs %s: %s", pair[0], pair[1], d)
			}
		})
	}

	// The network play / art check catches what it claims to catch: each mutation of a correct render is reported.
	t.Run("towns-check-catches", func(t *testing.T) {
		for _, file := range []string{"overlay-prod.yaml", "helm-default.yaml"} {
			if served[file] == nil {
				t.Fatalf("%s was not accepted (see above)", file)
			}
			for _, m := range townsMutations {
				var objs []object
				b, _ := json.Marshal(served[file])
				if err := json.Unmarshal(b, &objs); err != nil {
					t.Fatal(err)
				}
				m.mutate(objs)
				got := checkTowns(objs)
				if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, m.want) }) {
					t.Errorf("%s, %s: checkTowns = %q, want a problem containing %q", file, m.name, got, m.want)
				}
			}
		}
	})

	// Pod Security "restricted" is enforced in the prod overlay's namespace: admit its pods for real (dry-run).
	t.Run("prod-pod-security", func(t *testing.T) {
		stream := rendered["overlay-prod.yaml"]
		applyNamespaces(ctx, t, c, stream)
		objs := dryRun(ctx, t, c, stream)
		// Pod admission looks the ServiceAccount up (no controller-manager here to create "default").
		for _, sa := range []string{"default", "loco-emulator", "loco-broker"} {
			if _, err := c.Kubectl(ctx, "create", "serviceaccount", sa, "-n", "loco"); err != nil {
				t.Fatal(err)
			}
		}
		for _, w := range []struct{ kind, name string }{
			{"StatefulSet", "loco-emulator"}, {"Deployment", "loco-broker"}, {"Deployment", "loco-turn"},
		} {
			o := find(objs, w.kind, w.name)
			if o == nil {
				t.Fatalf("%s %s not rendered", w.kind, w.name)
			}
			if _, err := c.KubectlInput(ctx, c.Kubeconfig, podFromTemplate(o, "loco"), "create",
				"--dry-run=server", "-f", "-"); err != nil {
				t.Errorf("Pod Security (restricted) rejects %s %s: %v", w.kind, w.name, err)
			}
		}
		// And the check has teeth: a hostPort pod (local overlay) is rejected in that namespace.
		local := find(dryRun(ctx, t, c, rendered["overlay-local.yaml"]), "StatefulSet", "loco-emulator")
		_, err := c.KubectlInput(ctx, c.Kubeconfig, podFromTemplate(local, "loco"), "create", "--dry-run=server", "-f", "-")
		if err == nil || !strings.Contains(err.Error(), "hostPort") {
			t.Errorf("a hostPort pod in the restricted namespace: err = %v, want a Pod Security hostPort rejection", err)
		}
	})

	// The policy check catches what it claims to catch.
	t.Run("policy-catches-violations", func(t *testing.T) {
		if _, err := c.Kubectl(ctx, "create", "namespace", "policy-test"); err != nil {
			t.Fatal(err)
		}
		bad, err := os.ReadFile(filepath.Join("testdata", "policy-violations.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		for _, v := range checkPolicy(dryRun(ctx, t, c, string(bad))) {
			got[v.Object] = append(got[v.Object], v.Rule)
		}
		want := map[string][]string{
			"policy-test/Deployment/bad-privileged": {"host-namespaces", "privileged", "escalation", "capabilities",
				"root", "seccomp", "resources", "probes", "host-port"},
			"policy-test/StatefulSet/bad-root": {"host-path", "escalation", "capabilities", "root", "seccomp",
				"resources", "probes", "image"},
		}
		for obj, rules := range want {
			for _, r := range rules {
				if !slices.Contains(got[obj], r) {
					t.Errorf("%s: rule %q not reported (got %v)", obj, r, got[obj])
				}
			}
		}
	})
}

// checkBrokerRole: the broker's Role grants exactly get/list/watch/delete on pods and create on events.
func checkBrokerRole(t *testing.T, objs []object) {
	t.Helper()
	var role object
	for _, o := range objs {
		meta, _ := o["metadata"].(object)
		if name, _ := meta["name"].(string); o["kind"] == "Role" && strings.HasSuffix(name, "broker") {
			role = o
		}
	}
	if role == nil {
		t.Error("no broker Role rendered")
		return
	}
	b, _ := json.Marshal(role["rules"])
	want := `[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list","watch","delete"]},` +
		`{"apiGroups":["events.k8s.io"],"resources":["events"],"verbs":["create"]}]`
	if string(b) != want {
		t.Errorf("broker Role rules:\n got %s\nwant %s", b, want)
	}
	for _, o := range objs {
		if k := o["kind"]; k == "ClusterRole" || k == "ClusterRoleBinding" {
			t.Errorf("unexpected cluster-wide RBAC object %v", o["metadata"])
		}
	}
}
