// Package config parses the broker's flags (docs/api.md) with their environment fallbacks: every flag may be given
// as LOCO_ + its name in upper snake case (--recover-after ← LOCO_RECOVER_AFTER); a flag on the command line wins.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/recovery"
)

// Broker is the configuration of loco-broker.
type Broker struct {
	HTTPListen         string
	GRPCListen         string
	Discovery          string
	Instances          []string
	Namespace          string
	Selector           string
	Kubeconfig         string
	Recover            recovery.Mode
	RecoverAfter       time.Duration
	RecoverBackoff     time.Duration
	RecoverMaxFraction float64
	AnswerTimeout      time.Duration
	LogLevel           string
}

// EnvName is the environment variable that backs a flag.
func EnvName(flagName string) string {
	return "LOCO_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag that was not given on the command line from its environment variable, if present.
func ApplyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// podNamespaceFile is where Kubernetes mounts the pod's namespace.
const podNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ParseBroker parses loco-broker's arguments.
func ParseBroker(args []string, getenv func(string) string, usage io.Writer) (*Broker, error) {
	fs := flag.NewFlagSet("loco-broker", flag.ContinueOnError)
	fs.SetOutput(usage)
	c := &Broker{}
	var instances, mode string
	fs.StringVar(&c.HTTPListen, "http-listen", ":8080", "HTTP API, WHEP, SSE, web UI and /metrics address")
	fs.StringVar(&c.GRPCListen, "grpc-listen", ":9090", "gRPC address: loco.v1.Broker (agents), loco.v1.Ops, grpc.health.v1")
	fs.StringVar(&c.Discovery, "discovery", "static", "instance discovery: static or kubernetes")
	fs.StringVar(&instances, "instances", "", "static mode: comma-separated instance ids in grid order (id or id=address)")
	fs.StringVar(&c.Namespace, "namespace", "", "Kubernetes namespace of the emulator pods (default: the broker pod's namespace)")
	fs.StringVar(&c.Selector, "selector", discovery.DefaultSelector, "label selector of the emulator pods")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster configuration)")
	fs.StringVar(&mode, "recover", "on", "recovery of unhealthy instances: off, dry-run or on")
	fs.DurationVar(&c.RecoverAfter, "recover-after", 90*time.Second, "how long an instance must stay unhealthy before it is restarted")
	fs.DurationVar(&c.RecoverBackoff, "recover-backoff", 60*time.Second, "minimum time between restarts of one instance (doubles each time)")
	fs.Float64Var(&c.RecoverMaxFraction, "recover-max-fraction", 0.25, "largest fraction of instances being recovered at once (at least one)")
	fs.DurationVar(&c.AnswerTimeout, "answer-timeout", 10*time.Second, "how long to wait for an agent's SDP answer")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: %w", fs.Args(), ErrInvalid)
	}
	if err := ApplyEnv(fs, getenv); err != nil {
		return nil, err
	}
	for _, s := range strings.Split(instances, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.Instances = append(c.Instances, s)
		}
	}
	var err error
	if c.Recover, err = recovery.ParseMode(mode); err != nil {
		return nil, err
	}
	switch c.Discovery {
	case "static":
	case "kubernetes":
		if c.Namespace == "" {
			if b, err := os.ReadFile(podNamespaceFile); err == nil {
				c.Namespace = strings.TrimSpace(string(b))
			} else {
				c.Namespace = "default"
			}
		}
	default:
		return nil, fmt.Errorf("--discovery %q (want static or kubernetes): %w", c.Discovery, ErrInvalid)
	}
	if c.RecoverAfter <= 0 || c.RecoverBackoff <= 0 || c.AnswerTimeout <= 0 {
		return nil, fmt.Errorf("--recover-after, --recover-backoff and --answer-timeout must be positive: %w", ErrInvalid)
	}
	if c.RecoverMaxFraction <= 0 || c.RecoverMaxFraction > 1 {
		return nil, fmt.Errorf("--recover-max-fraction must be in (0, 1]: %w", ErrInvalid)
	}
	return c, nil
}
