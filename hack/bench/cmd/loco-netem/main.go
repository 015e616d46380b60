// The loco-netem binary impairs the packets an iptables NFQUEUE rule hands it (see package netem): it drops
// --loss of them and delays the rest by --delay ± --jitter. SIGUSR1 starts a total outage, SIGUSR2 ends it.
// It prints "ready" once the queue is bound.
//
// Flags (environment fallback LOCO_ + upper snake case): --queue (0), --loss (0.05), --delay (30ms), --jitter (10ms).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/loco-cluster/loco/hack/bench/netem"
)

func main() {
	var cfg netem.Config
	queue := flag.Uint("queue", envUint("LOCO_QUEUE", 0), "NFQUEUE number")
	flag.Float64Var(&cfg.Loss, "loss", envFloat("LOCO_LOSS", 0.05), "fraction of packets dropped (0..1)")
	flag.DurationVar(&cfg.Delay, "delay", envDuration("LOCO_DELAY", 30*time.Millisecond), "mean delay")
	flag.DurationVar(&cfg.Jitter, "jitter", envDuration("LOCO_JITTER", 10*time.Millisecond), "delay varies by up to ± this")
	flag.Parse()
	cfg.Queue = uint16(*queue)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	q, err := netem.Open(cfg)
	if err != nil {
		slog.Error("open queue", "err", err)
		os.Exit(1)
	}
	outage := make(chan os.Signal, 2)
	signal.Notify(outage, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range outage {
			q.Blackout(s == syscall.SIGUSR1)
		}
	}()
	fmt.Println("ready")
	if err := q.Run(ctx); err != nil {
		slog.Error("run", "err", err)
		os.Exit(1)
	}
	slog.Info("stopped", "seen", q.Seen.Load(), "dropped", q.Dropped.Load())
}

func envUint(k string, def uint) uint {
	if v, err := strconv.ParseUint(os.Getenv(k), 10, 32); err == nil {
		return uint(v)
	}
	return def
}

func envFloat(k string, def float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(k), 64); err == nil {
		return v
	}
	return def
}

func envDuration(k string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return v
	}
	return def
}
