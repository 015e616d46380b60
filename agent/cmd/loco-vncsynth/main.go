// The loco-vncsynth binary is a synthetic VNC server (package vncsynth) for tests and benchmarks: a LEGO-Loco-like
// scene with a machine-readable frame stamp, recording every input event.
//
// Flags (each also read from the environment as LOCO_ + the flag name in UPPER_SNAKE, e.g. LOCO_LISTEN):
//
//	--listen       where to serve VNC: unix:/path or host:port (default 127.0.0.1:5900)
//	--scene        town, motion or still (default town)
//	--bpp          server pixel depth, 16 or 32 (default 32)
//	--fps          frames painted per second (default 30)
//	--width, --height  initial mode (default 800x600)
//	--label        instance label drawn in the band; picks the band colour (default loco)
//	--absolute     announce an absolute pointer (tablet) instead of a relative one
//	--events-http  serve GET /events, GET /paints, GET /status, POST /mode on this address (default off;
//	               port 0 picks a free port, logged as events_http)
//	--events-stdout print every input event as a JSON line on stdout (default true)
//	--paint-log    append a JSON line per painted frame to this file (default off)
//
// It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loco-vncsynth:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv("LOCO_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(env(name, strconv.Itoa(def))); err == nil {
		return n
	}
	return def
}

func envBool(name string, def bool) bool {
	if b, err := strconv.ParseBool(env(name, strconv.FormatBool(def))); err == nil {
		return b
	}
	return def
}

func run() error {
	listen := flag.String("listen", env("listen", "127.0.0.1:5900"), "VNC address: unix:/path or host:port")
	scene := flag.String("scene", env("scene", vncsynth.SceneTown), "scene: town, motion or still")
	bpp := flag.Int("bpp", envInt("bpp", 32), "server pixel depth: 16 or 32")
	fps := flag.Int("fps", envInt("fps", 30), "frames per second")
	width := flag.Int("width", envInt("width", 800), "initial width")
	height := flag.Int("height", envInt("height", 600), "initial height")
	label := flag.String("label", env("label", "loco"), "instance label")
	absolute := flag.Bool("absolute", envBool("absolute", false), "announce an absolute pointer")
	eventsHTTP := flag.String("events-http", env("events-http", ""), "HTTP address for /events, /paints, /status, /mode")
	eventsStdout := flag.Bool("events-stdout", envBool("events-stdout", true), "print input events as JSON lines")
	paintLog := flag.String("paint-log", env("paint-log", ""), "file for paint records (JSON lines)")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg := vncsynth.Config{Scene: *scene, BPP: *bpp, FPS: *fps, Width: *width, Height: *height, Label: *label,
		AbsolutePointer: *absolute, Logger: log}
	if *paintLog != "" {
		f, err := os.OpenFile(*paintLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("paint log: %w", err)
		}
		defer f.Close()
		cfg.PaintLog = f
	}
	if *eventsStdout {
		var mu sync.Mutex
		enc := json.NewEncoder(os.Stdout)
		cfg.OnEvent = func(ev vncsynth.Event) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(ev)
		}
	}
	srv, err := vncsynth.New(cfg)
	if err != nil {
		return err
	}
	ln, err := vncsynth.Listen(*listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *listen, err)
	}
	httpAddr := ""
	if *eventsHTTP != "" {
		hl, err := net.Listen("tcp", *eventsHTTP)
		if err != nil {
			return fmt.Errorf("events http %s: %w", *eventsHTTP, err)
		}
		httpAddr = hl.Addr().String()
		hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(hl); err != nil && err != http.ErrServerClosed {
				log.Error("events http", "err", err)
				stop()
			}
		}()
		defer hs.Close()
	}
	log.Info("loco-vncsynth serving", "listen", ln.Addr().String(), "scene", *scene, "bpp", *bpp, "fps", *fps,
		"label", *label, "events_http", httpAddr)
	if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
