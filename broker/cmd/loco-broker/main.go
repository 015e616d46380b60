// The loco-broker binary finds the emulator instances (Kubernetes pods or a static list), keeps the agents' Attach
// streams, relays WHEP signaling between browsers and agents, serves the HTTP API, Server-Sent Events and the
// embedded web UI, the Ops and health gRPC services, and restarts instances that stay unhealthy.
//
// Flags (each also read from LOCO_<FLAG_NAME>, e.g. LOCO_HTTP_LISTEN): --http-listen, --grpc-listen, --discovery,
// --instances, --namespace, --selector, --kubeconfig, --recover, --recover-after, --recover-backoff,
// --recover-max-fraction, --answer-timeout, --log-level. See docs/api.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
)

func main() {
	cfg, err := config.ParseBroker(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loco-broker:", err)
		os.Exit(2)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintln(os.Stderr, "loco-broker: --log-level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, cfg, daemon.Options{}, log); err != nil {
		log.Error("broker failed", "err", err)
		os.Exit(1)
	}
}
