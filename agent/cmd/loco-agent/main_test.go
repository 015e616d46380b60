package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

func TestFlags(t *testing.T) {
	if _, err := parseFlags([]string{"--codec", "vp8"}); err == nil {
		t.Error("neither --vnc nor --profile was accepted")
	}
	if _, err := parseFlags([]string{"--vnc", "unix:/x", "--profile", "demo"}); err == nil {
		t.Error("both --vnc and --profile were accepted")
	}
	t.Setenv("LOCO_MAX_BITRATE", "3M")
	t.Setenv("LOCO_PUBLIC_IP", "203.0.113.1,203.0.113.2")
	o, err := parseFlags([]string{"--vnc", "unix:/x", "--min-bitrate", "200k"})
	if err != nil {
		t.Fatal(err)
	}
	if o.minBitrate != 200_000 || o.maxBitrate != 3_000_000 || len(o.publicIPs) != 2 || o.codec != "h264" ||
		o.fps != 30 || o.udpPort != 8443 {
		t.Fatalf("options %+v", o)
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunAgainstSynth runs the wired agent against the synthetic VNC server: /healthz turns 200, /metrics
// serves, and cancelling (SIGTERM) stops everything promptly.
func TestRunAgainstSynth(t *testing.T) {
	srv, err := vncsynth.New(vncsynth.Config{Scene: vncsynth.SceneTown})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "vnc.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	go func() { _ = srv.Serve(sctx, ln) }()

	httpAddr := freePort(t)
	o, err := parseFlags([]string{"--vnc", "unix:" + sock, "--http-listen", httpAddr, "--grpc-listen",
		freePort(t), "--ice-udp-port", "0", "--ice-tcp-port", "0", "--direct-whep", "--audio", "off",
		"--allow-loopback"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	deadline := time.Now().Add(2 * time.Minute) // GStreamer, VNC and the first frames on a loaded machine
	for {
		resp, err := http.Get("http://" + httpAddr + "/healthz")
		last := fmt.Sprint(err)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
			last = resp.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not 200 within 2 minutes (last %s)", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "loco_agent_vnc_connected 1") {
		t.Errorf("/metrics lacks loco_agent_vnc_connected 1")
	}
	resp, err = http.Post("http://"+httpAddr+"/whep", "application/sdp", strings.NewReader("nope"))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("direct WHEP with garbage: %v %v", resp, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("run did not return within a minute of the signal")
	}
}
