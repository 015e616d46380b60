package kubetest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Options chooses the components of a cluster. The zero value is etcd + kube-apiserver.
type Options struct {
	// ControllerManager starts kube-controller-manager (StatefulSet, ReplicaSet, garbage collector, namespace,
	// ServiceAccount and PersistentVolume controllers, ...).
	ControllerManager bool
	// Scheduler starts kube-scheduler. Implied by Nodes > 0.
	Scheduler bool
	// Nodes starts kwok and creates that many fake Nodes (kwok-node-0..N-1) that become Ready.
	Nodes int
	// NodeCPU, NodeMemory and NodePods are each fake Node's capacity (defaults "32", "128Gi", "110").
	NodeCPU, NodeMemory, NodePods string
	// APIServerArgs are appended to kube-apiserver's flags (e.g. "--feature-gates=...").
	APIServerArgs []string
	// Timeout bounds the start (default 5 minutes: the machine may be busy; the start returns once all is ready).
	Timeout time.Duration
}

// Cluster is a running control plane. Its fields are read-only.
type Cluster struct {
	// Dir is the cluster's temporary directory (keys, kubeconfigs, logs); Stop removes it.
	Dir string
	// Kubeconfig is the path of the admin kubeconfig (group system:masters).
	Kubeconfig string
	// Server is the apiserver's URL, https://127.0.0.1:<port>.
	Server string
	// CAFile is the PEM CA that signed the apiserver's serving certificate.
	CAFile string
	// AdminToken is the admin's bearer token.
	AdminToken string
	// BinDir holds the binaries used (kubectl among them).
	BinDir string
	// Nodes are the names of the fake Nodes.
	Nodes []string

	etcdDir    string
	components []*component
	stopOnce   sync.Once
	kubeconfN  int
	volumes    int
	mu         sync.Mutex
}

// Start launches a cluster for a test and stops it in t.Cleanup; it fails the test if the cluster cannot start.
// When the test failed, the tail of every component's log is written to the test log.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Minute) // + a possible cold build
	defer cancel()
	c, err := Launch(ctx, opts)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, comp := range c.components {
				t.Logf("kubetest: last lines of %s:\n%s", comp.name, tail(comp.log, 15))
			}
		}
		c.Stop()
	})
	return c
}

// Launch starts a cluster; the caller must call Stop. ctx bounds the start only.
func Launch(ctx context.Context, opts Options) (*Cluster, error) {
	bin, err := EnsureBinaries(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "kubetest-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	c := &Cluster{Dir: dir, BinDir: bin}
	if err := c.start(ctx, opts); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, opts Options) error {
	p, err := writePKI(c.Dir)
	if err != nil {
		return err
	}
	c.CAFile = p.caCert
	if c.AdminToken, err = randomToken(); err != nil {
		return err
	}
	tokens := filepath.Join(c.Dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.AdminToken+",admin,admin-uid,\"system:masters\"\n"), 0o600); err != nil {
		return fmt.Errorf("write token file: %w", err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]

	c.etcdDir = filepath.Join(c.Dir, "etcd")
	etcdURL := "http://" + hostPort(etcdPort)
	peerURL := "http://" + hostPort(peerPort)
	etcd, err := startComponent(c.Dir, "etcd", filepath.Join(c.BinDir, "etcd"), "--unsafe-no-fsync",
		"--name=kubetest", "--data-dir="+c.etcdDir,
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=kubetest="+peerURL, "--initial-cluster-state=new",
		"--log-level=warn", "--logger=zap", "--quota-backend-bytes=1073741824")
	if err != nil {
		return err
	}
	c.components = append(c.components, etcd)
	if err := c.waitHTTP(ctx, etcd, etcdURL+"/health", nil, ""); err != nil {
		return err
	}

	c.Server = "https://" + hostPort(apiPort)
	apiArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(apiPort),
		"--cert-dir=" + c.Dir, "--tls-cert-file=" + p.servingCert, "--tls-private-key-file=" + p.servingKey,
		"--token-auth-file=" + tokens, "--authorization-mode=RBAC", "--anonymous-auth=false",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPub, "--service-account-signing-key-file=" + p.saKey,
		"--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none",
		"--profiling=false", "--v=1",
	}
	api, err := startComponent(c.Dir, "kube-apiserver", filepath.Join(c.BinDir, "kube-apiserver"),
		append(apiArgs, opts.APIServerArgs...)...)
	if err != nil {
		return err
	}
	c.components = append(c.components, api)
	client, err := c.httpClient()
	if err != nil {
		return err
	}
	if err := c.waitHTTP(ctx, api, c.Server+"/readyz", client, c.AdminToken); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.Server, c.CAFile, c.AdminToken, "", nil); err != nil {
		return err
	}

	if opts.ControllerManager {
		kcm, err := startComponent(c.Dir, "kube-controller-manager",
			filepath.Join(c.BinDir, "kube-controller-manager"),
			"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0",
			"--service-account-private-key-file="+p.saKey, "--root-ca-file="+p.caCert,
			"--use-service-account-credentials=false", "--concurrent-statefulset-syncs=5", "--v=1")
		if err != nil {
			return err
		}
		c.components = append(c.components, kcm)
	} else if _, err := c.Kubectl(ctx, "create", "serviceaccount", "default", "-n", "default"); err != nil {
		// Without the controller-manager nothing creates the default ServiceAccount.
		return err
	}
	if opts.Scheduler || opts.Nodes > 0 {
		sched, err := startComponent(c.Dir, "kube-scheduler", filepath.Join(c.BinDir, "kube-scheduler"),
			"--kubeconfig="+c.Kubeconfig, "--leader-elect=false", "--secure-port=0", "--v=1")
		if err != nil {
			return err
		}
		c.components = append(c.components, sched)
	}
	if opts.Nodes > 0 {
		if err := c.startKwok(ctx, opts); err != nil {
			return err
		}
	}
	if opts.ControllerManager {
		err := c.WaitFor(ctx, "the default ServiceAccount (kube-controller-manager running)", func() (bool, error) {
			if err := c.checkRunning(); err != nil {
				return false, err
			}
			_, err := c.Kubectl(ctx, "get", "serviceaccount", "default", "-n", "default")
			return err == nil, nil
		})
		if err != nil {
			return err
		}
	}
	return c.checkRunning()
}

// Stop stops every component (SIGTERM, then SIGKILL after 10 s) and removes the cluster's directories. It is safe
// to call more than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		for i := len(c.components) - 1; i >= 0; i-- {
			c.components[i].stop(10 * time.Second)
		}
		os.RemoveAll(c.Dir)
	})
}

// LogPath returns the log file of a component ("etcd", "kube-apiserver", "kube-controller-manager",
// "kube-scheduler", "kwok"); it is removed by Stop.
func (c *Cluster) LogPath(component string) string { return filepath.Join(c.Dir, component+".log") }

// checkRunning returns an error if any component has exited.
func (c *Cluster) checkRunning() error {
	for _, comp := range c.components {
		if gone, err := comp.exited(); gone {
			return err
		}
	}
	return nil
}

// httpClient trusts the cluster's CA.
func (c *Cluster) httpClient() (*http.Client, error) {
	pemData, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}, nil
}

// waitHTTP polls url until it answers 200, failing early if comp exits.
func (c *Cluster) waitHTTP(ctx context.Context, comp *component, url string, client *http.Client, token string) error {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	last := "no answer yet"
	return c.WaitFor(ctx, comp.name+" ready ("+url+")", func() (bool, error) {
		if gone, err := comp.exited(); gone {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, fmt.Errorf("request %s: %w", url, err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		resp.Body.Close()
		last = resp.Status
		return resp.StatusCode == http.StatusOK, nil
	}, func() string { return last })
}

// WaitFor polls check every 250 ms until it returns true, returns an error, or ctx ends (ErrTimeout, with what
// and the optional detail in the message).
func (c *Cluster) WaitFor(ctx context.Context, what string, check func() (bool, error), detail ...func() string) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := check()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("waiting for %s: %v", what, ctx.Err())
			for _, d := range detail {
				msg += "; last: " + d()
			}
			return fmt.Errorf("%w: %s", ErrTimeout, msg)
		case <-tick.C:
		}
	}
}
