package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Version is the Kubernetes release hack/k8s/build builds.
const Version = "v1.36.3"

// binaries hack/k8s/build provides.
var allBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"}

var buildOnce sync.Mutex

// BinDir returns the directory holding the control plane binaries: $LOCO_K8S_BIN, else hack/k8s/build's cache
// directory $LOCO_CACHE/k8s/<Version> (LOCO_CACHE defaults to ~/.cache/loco). It does not check the directory.
func BinDir() string {
	if d := os.Getenv("LOCO_K8S_BIN"); d != "" {
		return d
	}
	cache := os.Getenv("LOCO_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = os.TempDir()
		}
		cache = filepath.Join(home, ".cache", "loco")
	}
	return filepath.Join(cache, "k8s", Version)
}

// EnsureBinaries returns BinDir after making sure every binary is there, running hack/k8s/build when one is
// missing and LOCO_K8S_BIN is not set (the script caches; a cold build takes about 20 minutes).
func EnsureBinaries(ctx context.Context) (string, error) {
	buildOnce.Lock()
	defer buildOnce.Unlock()
	dir := BinDir()
	missing := missingBinaries(dir)
	if len(missing) == 0 {
		return dir, nil
	}
	if os.Getenv("LOCO_K8S_BIN") != "" {
		return "", fmt.Errorf("%w: %s not in LOCO_K8S_BIN=%s", ErrMissingBinary, strings.Join(missing, ", "), dir)
	}
	script, err := buildScript()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, script).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s failed: %v\n%s", ErrMissingBinary, script, err, out)
	}
	if missing := missingBinaries(dir); len(missing) > 0 {
		return "", fmt.Errorf("%w: %s still missing after %s", ErrMissingBinary, strings.Join(missing, ", "), script)
	}
	return dir, nil
}

// missingBinaries lists the binaries (and kwok's stages) not present in dir.
func missingBinaries(dir string) []string {
	var missing []string
	for _, name := range append(allBinaries, "kwok-stages.yaml") {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	return missing
}

// buildScript finds hack/k8s/build next to this package's source.
func buildScript() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("%w: cannot locate hack/k8s/build (no caller information)", ErrMissingBinary)
	}
	script := filepath.Join(filepath.Dir(file), "..", "k8s", "build")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("%w: run hack/k8s/build first: %v", ErrMissingBinary, err)
	}
	return script, nil
}
