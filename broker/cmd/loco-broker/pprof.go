//go:build pprof

// A profiling build of the broker (go build -tags pprof): with LOCO_PPROF_LISTEN=127.0.0.1:6061 it serves
// net/http/pprof and /debug/metrics (every runtime/metrics value: heap classes, stacks, goroutines) on that address,
// and samples allocations finely (every 4 KiB). How the broker-scale memory figures were taken apart.

package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // profiling endpoints on LOCO_PPROF_LISTEN, only in a -tags pprof build
	"os"
	"runtime"
	"runtime/metrics"
)

func init() {
	addr := os.Getenv("LOCO_PPROF_LISTEN")
	if addr == "" {
		return
	}
	runtime.MemProfileRate = 4096
	http.HandleFunc("/debug/metrics", func(w http.ResponseWriter, _ *http.Request) {
		descs := metrics.All()
		samples := make([]metrics.Sample, len(descs))
		for i, d := range descs {
			samples[i].Name = d.Name
		}
		metrics.Read(samples)
		for _, s := range samples {
			switch s.Value.Kind() {
			case metrics.KindUint64:
				fmt.Fprintf(w, "%s %d\n", s.Name, s.Value.Uint64())
			case metrics.KindFloat64:
				fmt.Fprintf(w, "%s %g\n", s.Name, s.Value.Float64())
			}
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	go func() { _ = http.Serve(ln, nil) }()
}
