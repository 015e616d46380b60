package k8s

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the repository's root (tests run in hack/k8s).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// renderAll runs hack/manifests into a temporary directory and returns the rendered files by name
// (overlay-local.yaml, ..., helm-prod.yaml).
func renderAll(t testing.TB) map[string]string {
	t.Helper()
	root := repoRoot(t)
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack", "manifests"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/manifests: %v\n%s", err, b)
	}
	files, err := filepath.Glob(filepath.Join(out, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rendered[filepath.Base(f)] = string(data)
	}
	for _, want := range []string{"overlay-local.yaml", "overlay-dev.yaml", "overlay-prod.yaml",
		"extras-nfs-server.yaml", "helm-default.yaml", "helm-prod.yaml"} {
		if strings.TrimSpace(rendered[want]) == "" {
			t.Fatalf("hack/manifests rendered no %s (got %d files)", want, len(rendered))
		}
	}
	return rendered
}

// splitDocs splits a multi-document YAML stream.
func splitDocs(stream string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+stream, "\n---") {
		if strings.TrimSpace(d) != "" {
			docs = append(docs, strings.TrimPrefix(d, "\n"))
		}
	}
	return docs
}

// topField returns the value of a top-level "key: value" line of a YAML document.
func topField(doc, key string) string {
	for _, line := range strings.Split(doc, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestDashboardCopiesMatch: the Grafana dashboard exists twice (kustomize and Helm cannot share files outside
// their roots); they must be the same.
func TestDashboardCopiesMatch(t *testing.T) {
	root := repoRoot(t)
	a, err := os.ReadFile(filepath.Join(root, "deploy", "overlays", "prod", "loco-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "helm", "loco", "dashboards", "loco.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Fatal("deploy/overlays/prod/loco-dashboard.json and deploy/helm/loco/dashboards/loco.json differ")
	}
}

// TestDashboardMetricsExist: every loco_* metric the Grafana dashboard queries is defined by the agent or the
// broker (full name in their Go sources, or the agent's gauge("<suffix>", ...) shorthand).
func TestDashboardMetricsExist(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "deploy", "overlays", "prod", "loco-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sources strings.Builder
	for _, dir := range []string{"agent", "broker"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			sources.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	src := sources.String()
	names := regexp.MustCompile(`loco_(agent|broker)_[a-z0-9_]+`).FindAllString(string(data), -1)
	if len(names) < 5 {
		t.Fatalf("dashboard queries only %d loco metrics", len(names))
	}
	for _, n := range names {
		suffix, isAgent := strings.CutPrefix(n, "loco_agent_")
		if strings.Contains(src, `"`+n+`"`) || (isAgent && strings.Contains(src, `gauge("`+suffix+`"`)) {
			continue
		}
		t.Errorf("the dashboard queries %s, which neither the agent nor the broker defines", n)
	}
}
