// The loco-tightproxy binary serves another VNC server's picture re-encoded with Tight (see package tightproxy), so
// the benchmarks' noVNC baseline gets the encoding a real VNC server gives it. It prints "listening ADDR" when ready.
//
// Flags (environment fallback LOCO_ + upper snake case): --listen (127.0.0.1:0), --upstream (host:port, required).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/loco-cluster/loco/hack/bench/tightproxy"
)

func main() {
	var cfg tightproxy.Config
	flag.StringVar(&cfg.Listen, "listen", envOr("LOCO_LISTEN", "127.0.0.1:0"), "address for VNC clients")
	flag.StringVar(&cfg.Upstream, "upstream", os.Getenv("LOCO_UPSTREAM"), "VNC server to re-encode (host:port)")
	flag.Parse()
	if cfg.Upstream == "" {
		fmt.Fprintln(os.Stderr, "loco-tightproxy: --upstream is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := tightproxy.Run(ctx, cfg, func(a net.Addr) { fmt.Printf("listening %s\n", a) })
	if err != nil {
		slog.Error("tight proxy", "err", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
