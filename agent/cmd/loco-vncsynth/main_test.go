package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/rfb"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

// TestBinary builds and runs loco-vncsynth as tests written in other languages do: VNC on a unix socket, events on
// stdout and over HTTP, paints in a file.
func TestBinary(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "loco-vncsynth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sock, paints := filepath.Join(dir, "vnc.sock"), filepath.Join(dir, "paints.jsonl")
	cmd := exec.Command(bin, "--listen", "unix:"+sock, "--scene", "town", "--bpp", "16", "--fps", "20",
		"--label", "loco-7", "--events-http", "127.0.0.1:0", "--paint-log", paints)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	httpAddr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`events_http=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				httpAddr <- m[1]
			}
		}
	}()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var base string
	select {
	case a := <-httpAddr:
		base = "http://" + a
	case <-time.After(time.Minute):
		t.Fatal("no events_http address logged within a minute")
	}

	fb := &capture.Framebuffer{}
	c := rfb.New(rfb.Config{Addr: "unix:" + sock, Framebuffer: fb})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(time.Minute)
	for !c.Relative() || c.Stats().Updates < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no connection with updates")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := c.Mode(); m.Width != 800 || m.Height != 600 || m.GuestBPP != 16 {
		t.Fatalf("mode %+v", m)
	}
	if err := c.PointerRel(1, 3, 4); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-lines:
		var ev vncsynth.Event
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Kind != vncsynth.KindPointerRel || ev.X != 3 || ev.Y != 4 {
			t.Fatalf("stdout line %q: %+v %v", l, ev, err)
		}
	case <-time.After(time.Minute):
		t.Fatal("no event on stdout within a minute")
	}
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	var evs []vncsynth.Event
	err = json.NewDecoder(resp.Body).Decode(&evs)
	resp.Body.Close()
	if err != nil || len(evs) != 1 || evs[0].Buttons != 1 {
		t.Fatalf("GET /events: %+v %v", evs, err)
	}
	// The paint log has one line per frame, and the stamps in the framebuffer are among them.
	data, err := os.ReadFile(paints)
	if err != nil {
		t.Fatal(err)
	}
	logged := map[uint16]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var p vncsynth.Paint
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatalf("paint line %q: %v", l, err)
		}
		logged[p.Stamp] = true
	}
	var stamp uint16
	var ok bool
	var f capture.Frame
	fb.Peek(&f, func(f *capture.Frame) { stamp, ok = vncsynth.DecodeStamp(f.Pix, f.Stride, 4) })
	if !ok || !logged[stamp] || len(logged) < 3 {
		t.Fatalf("stamp %d (%v) in the framebuffer, %d frames logged", stamp, ok, len(logged))
	}
	// SIGTERM stops it cleanly.
	_ = cmd.Process.Signal(os.Interrupt)
	waitDone := make(chan error, 1)
	go func() { waitDone <- cmd.Wait() }()
	select {
	case err := <-waitDone:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("did not stop within a minute of SIGINT")
	}
}
