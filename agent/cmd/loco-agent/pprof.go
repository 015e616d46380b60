//go:build pprof

// A profiling build of the agent (go build -tags pprof): with LOCO_PPROF_LISTEN=127.0.0.1:6060 it serves
// net/http/pprof on that address (go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=20). How the
// agent's CPU per frame was taken apart; the normal build has none of it.

package main

import (
	"log/slog"
	"net/http"
	_ "net/http/pprof" // profiling endpoints on LOCO_PPROF_LISTEN, only in a -tags pprof build
	"os"
)

func init() {
	addr := os.Getenv("LOCO_PPROF_LISTEN")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof listener", "addr", addr, "err", err)
		}
	}()
}
