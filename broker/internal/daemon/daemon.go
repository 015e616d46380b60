// Package daemon assembles the broker: discovery feeding the registry, the agents' Attach hub, WHEP signaling, the
// recovery loop, the HTTP API with the embedded UI, and the gRPC services; Run starts them in dependency order and
// stops them in reverse, with deadlines.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
	"github.com/loco-cluster/loco/broker/internal/api"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/discovery/kube"
	"github.com/loco-cluster/loco/broker/internal/httpapi"
	"github.com/loco-cluster/loco/broker/internal/recovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	"github.com/loco-cluster/loco/broker/internal/signaling"
	"github.com/loco-cluster/loco/broker/internal/webui"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Options are what tests (and main) may supply beyond the flags.
type Options struct {
	// HTTPListener and GRPCListener, when set, are used instead of listening on the configured addresses.
	HTTPListener, GRPCListener net.Listener
	// KubeConfig, when set, is used instead of --kubeconfig or the in-cluster configuration.
	KubeConfig *rest.Config
	// Registry tunes the registry (tests shorten the silence limit).
	Registry registry.Config
	// RecoverInterval overrides how often recovery examines the registry.
	RecoverInterval time.Duration
	// Ready, when set, is called once discovery has synced and both servers listen.
	Ready func(d *Daemon)
}

// syncWait bounds how long serving waits for discovery's first listing.
const syncWait = 10 * time.Second

// Daemon is a running broker's parts.
type Daemon struct {
	Registry  *registry.Registry
	Hub       *agentlink.Hub
	Signaling *signaling.Service
	Recovery  *recovery.Loop
	HTTPAddr  net.Addr
	GRPCAddr  net.Addr
}

// Run builds the broker from cfg and serves until ctx is done.
func Run(ctx context.Context, cfg *config.Broker, opts Options, log *slog.Logger) error {
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	rcfg := opts.Registry
	rcfg.Log = log.With("component", "registry")
	rcfg.Metrics = registry.NewMetrics(promReg)
	reg := registry.New(rcfg)
	hub := agentlink.NewHub(reg, log.With("component", "agentlink"))
	sig := signaling.New(signaling.Config{AnswerTimeout: cfg.AnswerTimeout}, reg, hub,
		log.With("component", "signaling"), signaling.NewMetrics(promReg))
	hub.SetSessionObserver(sig)

	var source discovery.Source
	var restarter recovery.Restarter
	switch cfg.Discovery {
	case "kubernetes":
		client, err := kubeClient(opts.KubeConfig, cfg.Kubeconfig)
		if err != nil {
			return err
		}
		source = kube.New(client, cfg.Namespace, cfg.Selector, log.With("component", "discovery"))
		restarter = recovery.NewPodRestarter(client, reg, reportingInstance(), log.With("component", "recovery"))
	default:
		st, err := discovery.NewStatic(cfg.Instances)
		if err != nil {
			return fmt.Errorf("static discovery: %w", err)
		}
		source = st
		restarter = recovery.NewAgentRestarter(hub, cfg.AnswerTimeout)
	}
	rec := recovery.New(recovery.Config{
		Mode: cfg.Recover, After: cfg.RecoverAfter, Backoff: cfg.RecoverBackoff, MaxFraction: cfg.RecoverMaxFraction,
		Interval: opts.RecoverInterval,
	}, reg, restarter, log.With("component", "recovery"), recovery.NewMetrics(promReg))

	httpLn, grpcLn := opts.HTTPListener, opts.GRPCListener
	var err error
	if httpLn == nil {
		if httpLn, err = net.Listen("tcp", cfg.HTTPListen); err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
	}
	if grpcLn == nil {
		if grpcLn, err = net.Listen("tcp", cfg.GRPCListen); err != nil {
			_ = httpLn.Close()
			return fmt.Errorf("grpc listen: %w", err)
		}
	}
	d := &Daemon{Registry: reg, Hub: hub, Signaling: sig, Recovery: rec, HTTPAddr: httpLn.Addr(), GRPCAddr: grpcLn.Addr()}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	gs := grpc.NewServer(
		// Agent streams carry small messages; 32 KiB buffers per connection would cost ~60 MB at 1,000 agents.
		grpc.ReadBufferSize(8<<10), grpc.WriteBufferSize(8<<10),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 20 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	locov1.RegisterBrokerServer(gs, hub)
	locov1.RegisterOpsServer(gs, api.NewOps(reg, hub, rec))
	healthpb.RegisterHealthServer(gs, api.NewHealth(reg))
	reflection.Register(gs)

	hs := &http.Server{
		Handler: httpapi.New(httpapi.Config{RequestTimeout: cfg.AnswerTimeout}, reg, hub, sig, rec, webui.Handler(),
			promReg, log.With("component", "http")).Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Long-lived requests (SSE) end when the broker stops.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	var wg sync.WaitGroup
	errc := make(chan error, 6)
	goRun := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	goRun("registry", func() error { return reg.Run(ctx) })
	goRun("signaling", func() error { return sig.Run(ctx, 30*time.Second) })
	synced := make(chan struct{})
	var once sync.Once
	goRun("discovery", func() error { return source.Run(ctx, reg, func() { once.Do(func() { close(synced) }) }) })
	// Agents may attach while discovery syncs: the registry keeps them apart until their instance is known.
	goRun("grpc", func() error { return gs.Serve(grpcLn) })
	// Serve HTTP once discovery has listed everything (a complete first snapshot), but not later than syncWait:
	// an unreachable API server must not keep the UI and /healthz down. Recovery waits for the sync.
	select {
	case <-synced:
	case <-ctx.Done():
	case <-time.After(syncWait):
		log.Warn("discovery has not synced yet; serving anyway", "waited", syncWait)
	}
	goRun("recovery", func() error {
		select {
		case <-synced:
			return rec.Run(ctx)
		case <-ctx.Done():
			return nil
		}
	})
	goRun("http", func() error { return hs.Serve(httpLn) })
	log.Info("broker serving", "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(),
		"discovery", cfg.Discovery, "recover", cfg.Recover.String(), "ui_built", webui.Built())
	if opts.Ready != nil && ctx.Err() == nil {
		opts.Ready(d)
	}

	<-ctx.Done()
	log.Info("broker stopping")
	shutdownCtx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	// SSE streams never end on their own: Shutdown waits for them, so close them after a short grace.
	if err := hs.Shutdown(shutdownCtx); err != nil {
		_ = hs.Close()
	}
	hub.Close()
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		gs.Stop()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

func kubeClient(rc *rest.Config, kubeconfig string) (*kube.Client, error) {
	var err error
	switch {
	case rc != nil:
		rc = rest.CopyConfig(rc)
	case kubeconfig != "":
		rc, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	default:
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	rc.UserAgent = "loco-broker"
	return kube.NewClient(rc)
}

// reportingInstance names this broker in Kubernetes Events: its pod name (the host name in a pod).
func reportingInstance() string {
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "loco-broker"
}
