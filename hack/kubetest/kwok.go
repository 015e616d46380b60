package kubetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
)

// kwokAnnotation marks the Nodes this package's kwok manages.
const kwokAnnotation = "kwok.x-k8s.io/node"

// startKwok runs kwok with its own stages (hack/k8s/build renders them) and creates opts.Nodes fake Nodes.
func (c *Cluster) startKwok(ctx context.Context, opts Options) error {
	kwok, err := startComponent(c.Dir, "kwok", filepath.Join(c.BinDir, "kwok"),
		"--kubeconfig="+c.Kubeconfig,
		"--config="+filepath.Join(c.BinDir, "kwok-stages.yaml"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+kwokAnnotation+"=fake",
		"--cidr=127.2.0.0/16", "--node-ip=127.0.0.1")
	if err != nil {
		return err
	}
	c.components = append(c.components, kwok)
	cpu, mem, pods := orDefault(opts.NodeCPU, "32"), orDefault(opts.NodeMemory, "128Gi"), orDefault(opts.NodePods, "110")
	var manifest strings.Builder
	for i := range opts.Nodes {
		name := fmt.Sprintf("kwok-node-%d", i)
		c.Nodes = append(c.Nodes, name)
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Node
metadata:
  name: %[1]s
  annotations:
    %[2]s: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: %[1]s
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "%[3]s", memory: "%[4]s", pods: "%[5]s", ephemeral-storage: 100Gi}
  capacity: {cpu: "%[3]s", memory: "%[4]s", pods: "%[5]s", ephemeral-storage: 100Gi}
  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
`, name, kwokAnnotation, cpu, mem, pods)
	}
	if _, err := c.KubectlInput(ctx, c.Kubeconfig, manifest.String(), "create", "-f", "-"); err != nil {
		return fmt.Errorf("create fake nodes: %w", err)
	}
	last := ""
	return c.WaitFor(ctx, fmt.Sprintf("%d kwok nodes Ready", opts.Nodes), func() (bool, error) {
		if err := c.checkRunning(); err != nil {
			return false, err
		}
		out, err := c.Kubectl(ctx, "get", "nodes", "-l", "type=kwok", "-o",
			`jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{end}`)
		if err != nil {
			return false, err
		}
		last = out
		return strings.Count(out, "True") == opts.Nodes, nil
	}, func() string { return "Ready conditions: " + last })
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
