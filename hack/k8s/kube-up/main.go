// The kube-up binary starts the same control plane as the tests (hack/kubetest) for manual work, prints the admin
// kubeconfig path and waits for Ctrl+C, then stops everything and removes its files. Run it through hack/k8s/up.
//
// Flags: --nodes N (kwok fake nodes; 0 = none), --controller-manager (default true), --scheduler (default true).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/loco-cluster/loco/hack/kubetest"
)

func main() {
	var opts kubetest.Options
	flag.IntVar(&opts.Nodes, "nodes", 3, "kwok fake nodes (0: none)")
	flag.BoolVar(&opts.ControllerManager, "controller-manager", true, "run kube-controller-manager")
	flag.BoolVar(&opts.Scheduler, "scheduler", true, "run kube-scheduler")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := kubetest.Launch(ctx, opts)
	if err != nil {
		slog.Error("start cluster", "err", err)
		os.Exit(1)
	}
	defer c.Stop()
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	fmt.Printf("# server %s, nodes %v, logs in %s; Ctrl+C stops and removes everything\n", c.Server, c.Nodes, c.Dir)
	<-ctx.Done()
}
