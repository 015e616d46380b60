package kubetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// Apply server-side applies YAML or JSON manifests (several documents allowed) as the admin, like
// `kubectl apply --server-side -f -`. Namespaces must exist or come first in the stream.
func (c *Cluster) Apply(ctx context.Context, manifests string) error {
	_, err := c.KubectlInput(ctx, c.Kubeconfig, manifests, "apply", "--server-side", "--force-conflicts",
		"--field-manager=kubetest", "-f", "-")
	return err
}

// ProvisionVolumes creates n PersistentVolumes of the given size (e.g. "4Gi"), ReadWriteOnce, without a storage
// class, so the claims of a StatefulSet's volumeClaimTemplates (which name no class; the cluster has no default
// class and no provisioner) bind to them. The volumes are hostPaths under the cluster directory; nothing mounts
// them (kwok runs no containers).
func (c *Cluster) ProvisionVolumes(ctx context.Context, n int, size string) error {
	var b strings.Builder
	c.mu.Lock()
	first := c.volumes
	c.volumes += n
	c.mu.Unlock()
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: kubetest-pv-%d\n"+
			"spec:\n  capacity: {storage: %q}\n  accessModes: [ReadWriteOnce]\n"+
			"  persistentVolumeReclaimPolicy: Retain\n  hostPath: {path: %q}\n",
			i, size, filepath.Join(c.Dir, fmt.Sprintf("pv-%d", i)))
	}
	if err := c.Apply(ctx, b.String()); err != nil {
		return fmt.Errorf("provision %d volumes: %w", n, err)
	}
	return nil
}
