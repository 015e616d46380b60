package kubetest

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLaunchAuthStop starts etcd + kube-apiserver, checks that the admin is all-powerful, that a ServiceAccount's
// real token and an impersonated ServiceAccount are both subject to RBAC, and that Stop leaves nothing behind.
func TestLaunchAuthStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := Launch(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	if out, err := c.Kubectl(ctx, "version", "-o", "json"); err != nil || !strings.Contains(out, `"gitVersion": "`+Version+`"`) {
		t.Fatalf("server version: %v\n%s", err, out)
	}
	if _, err := c.Kubectl(ctx, "create", "serviceaccount", "probe", "-n", "default"); err != nil {
		t.Fatal(err)
	}
	saConfig, err := c.ServiceAccountKubeconfig(ctx, "default", "probe")
	if err != nil {
		t.Fatal(err)
	}
	asConfig, err := c.ImpersonationKubeconfig(ServiceAccountUser("default", "probe"), ServiceAccountGroups("default")...)
	if err != nil {
		t.Fatal(err)
	}
	for name, kc := range map[string]string{"token": saConfig, "impersonation": asConfig} {
		who, err := c.KubectlWith(ctx, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err != nil || who != "system:serviceaccount:default:probe" {
			t.Errorf("%s: whoami = %q, %v", name, who, err)
		}
		if _, err := c.KubectlWith(ctx, kc, "get", "pods", "-n", "default"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
			t.Errorf("%s: listing pods without a Role: err = %v, want Forbidden", name, err)
		}
	}
	if _, err := c.Kubectl(ctx, "get", "pods", "-A"); err != nil {
		t.Errorf("admin cannot list pods: %v", err)
	}

	pids := make([]int, 0, len(c.components))
	for _, comp := range c.components {
		pids = append(pids, comp.cmd.Process.Pid)
	}
	c.Stop()
	c.Stop() // idempotent
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still alive after Stop", pid)
		}
	}
	for _, d := range []string{c.Dir, c.etcdDir} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s not removed: %v", d, err)
		}
	}
}
