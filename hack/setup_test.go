// Tests of the repository's scripts themselves.
package hack_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSetupIsIdempotent runs hack/setup on a machine that `make test` has already set up: the run must succeed,
// report every step, and change nothing (no step installs, builds or downloads anything).
func TestSetupIsIdempotent(t *testing.T) {
	out, err := exec.Command("./setup").CombinedOutput()
	if err != nil {
		t.Fatalf("hack/setup failed: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	steps := 0
	for _, line := range lines {
		if !strings.HasPrefix(line, "==> ") {
			t.Errorf("unexpected output line (every line should be a step): %q", line)
			continue
		}
		steps++
		for _, changed := range []string{"installed", "built", "downloaded"} {
			if strings.HasSuffix(strings.TrimSpace(line), changed) || strings.Contains(line, "s  "+changed) {
				t.Errorf("second run changed something: %q", line)
			}
		}
	}
	if steps < 5 {
		t.Errorf("expected at least 5 steps (packages, 4 Go tools, modules), got %d:\n%s", steps, out)
	}
}
