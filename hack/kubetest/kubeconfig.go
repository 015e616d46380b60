package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// writeKubeconfig writes a kubeconfig with one cluster, one bearer-token user and one context; as and asGroups,
// when set, make every request impersonate that user.
func writeKubeconfig(path, server, caFile, token, as string, asGroups []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: kubetest\n  cluster:\n")
	fmt.Fprintf(&b, "    server: %s\n    certificate-authority: %s\n", server, strconv.Quote(caFile))
	fmt.Fprintf(&b, "users:\n- name: user\n  user:\n    token: %s\n", strconv.Quote(token))
	if as != "" {
		fmt.Fprintf(&b, "    as: %s\n", strconv.Quote(as))
		if len(asGroups) > 0 {
			fmt.Fprintf(&b, "    as-groups:\n")
			for _, g := range asGroups {
				fmt.Fprintf(&b, "    - %s\n", strconv.Quote(g))
			}
		}
	}
	fmt.Fprintf(&b, "contexts:\n- name: kubetest\n  context:\n    cluster: kubetest\n    user: user\n")
	fmt.Fprintf(&b, "current-context: kubetest\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// nextKubeconfigPath returns a fresh file name in the cluster directory.
func (c *Cluster) nextKubeconfigPath(kind string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kubeconfN++
	return filepath.Join(c.Dir, fmt.Sprintf("%s-%d.kubeconfig", kind, c.kubeconfN))
}

// ServiceAccountUser is the user name of a ServiceAccount, for impersonation.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// ServiceAccountGroups are the groups the apiserver gives a ServiceAccount's token.
func ServiceAccountGroups(namespace string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
}

// ServiceAccountKubeconfig writes a kubeconfig that authenticates with a real token of the ServiceAccount
// namespace/name (TokenRequest, valid for one hour), exactly what a pod running as it would get.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name string) (string, error) {
	out, err := c.Kubectl(ctx, "create", "token", name, "-n", namespace, "--duration=1h")
	if err != nil {
		return "", fmt.Errorf("token for ServiceAccount %s/%s: %w", namespace, name, err)
	}
	path := c.nextKubeconfigPath("sa-" + namespace + "-" + name)
	if err := writeKubeconfig(path, c.Server, c.CAFile, strings.TrimSpace(out), "", nil); err != nil {
		return "", err
	}
	return path, nil
}

// ImpersonationKubeconfig writes a kubeconfig that uses the admin's token to impersonate user with groups.
func (c *Cluster) ImpersonationKubeconfig(user string, groups ...string) (string, error) {
	path := c.nextKubeconfigPath("as")
	if err := writeKubeconfig(path, c.Server, c.CAFile, c.AdminToken, user, groups); err != nil {
		return "", err
	}
	return path, nil
}

// Kubectl runs the cached kubectl with the admin kubeconfig and returns its standard output; on failure the error
// carries the command and its standard error.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.KubectlWith(ctx, c.Kubeconfig, args...)
}

// KubectlWith runs kubectl with the given kubeconfig.
func (c *Cluster) KubectlWith(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	return c.KubectlInput(ctx, kubeconfig, "", args...)
}

// KubectlInput runs kubectl with the given kubeconfig and standard input (e.g. manifests for `apply -f -`).
func (c *Cluster) KubectlInput(ctx context.Context, kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "kubectl"), append([]string{"--kubeconfig=" + kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", quoteArgs(args), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
