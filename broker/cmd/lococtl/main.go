// The lococtl binary is the operator's command line for a running loco-broker: `lococtl ls`, `lococtl health <id>`,
// `lococtl watch`, `lococtl restart <id>`, `lococtl screenshot <id> -o file.png`; tables by default, `-o json` for
// the protobuf JSON mapping. Flags: --broker (LOCO_BROKER, default localhost:9090), --timeout (LOCO_TIMEOUT).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/loco-cluster/loco/broker/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := ctl.Run(ctx, os.Args[1:], ctl.IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, ctl.ErrUsage):
		fmt.Fprintln(os.Stderr, "lococtl:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "lococtl:", err)
		os.Exit(1)
	}
}
