package guest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunTwoInstances runs hack/run with N=2 like `make run` does, waits for "2 instances healthy", checks the
// printed URL answers, kills one QEMU with SIGKILL and waits for the broker to show that instance restarted and
// healthy again, then sends SIGINT (Ctrl+C) and checks that every process it started (broker, agents, QEMUs,
// PulseAudio daemons) is gone.
func TestRunTwoInstances(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	port, grpcPort := freePort(t), freePort(t)
	base := freePortRange(t, 6)
	cmd := exec.Command(filepath.Join(root, "hack/run"))
	cmd.Env = append(os.Environ(), "N=2", "PORT="+strconv.Itoa(port), "GRPC_PORT="+strconv.Itoa(grpcPort),
		"AGENT_PORT_BASE="+strconv.Itoa(base), "HEALTH_TIMEOUT=240", "KEEP_LOGS=0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(90 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
	})

	var log []string
	deadline := time.After(15 * time.Minute) // includes the first build of the agent (cgo GStreamer bindings)
	for healthy := false; !healthy; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("hack/run ended early:\n%s", strings.Join(log, "\n"))
			}
			t.Log(l)
			log = append(log, l)
			if strings.Contains(l, "not all healthy") {
				t.Fatalf("instances did not become healthy:\n%s", strings.Join(log, "\n"))
			}
			healthy = strings.Contains(l, "2 instances healthy")
		case <-deadline:
			t.Fatalf("no \"2 instances healthy\" within 15 min:\n%s", strings.Join(log, "\n"))
		}
	}
	go func() { // keep draining
		for l := range lines {
			t.Log(l)
		}
	}()

	for _, path := range []string{"/", "/api/instances"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if path == "/api/instances" && strings.Count(string(body), "INSTANCE_STATE_HEALTHY") != 2 {
			t.Fatalf("GET /api/instances: %s", body)
		}
	}

	procs := descendants(cmd.Process.Pid)
	var qemus int
	for _, p := range procs {
		if strings.HasPrefix(p.comm, "qemu-system") {
			qemus++
		}
	}
	if qemus != 2 {
		t.Fatalf("want 2 QEMU processes under hack/run, found %d: %+v", qemus, procs)
	}

	// SIGKILL one QEMU: its agent starts a new one, and the broker's view of the instance shows the restart.
	var victim int
	for _, p := range procs {
		if strings.HasPrefix(p.comm, "qemu-system") && strings.Contains(cmdline(p.pid), "loco.name=loco-1") {
			victim = p.pid
		}
	}
	if victim == 0 {
		t.Fatalf("no QEMU of loco-1 among %+v", procs)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restartDeadline := time.Now().Add(2 * time.Minute)
	for {
		body := getInstance(t, port, "loco-1")
		if strings.Contains(body, `"qemuRestarts":1`) && strings.Contains(body, `"qemu":"QEMU_STATE_RUNNING"`) &&
			strings.Contains(body, `"state":"INSTANCE_STATE_HEALTHY"`) {
			t.Logf("loco-1 after its QEMU was killed: restarted, running, healthy")
			break
		}
		if time.Now().After(restartDeadline) {
			t.Fatalf("loco-1 not back after SIGKILL of its QEMU: %s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}
	procs = append(procs, descendants(cmd.Process.Pid)...)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("hack/run after SIGINT: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("hack/run still running 90 s after SIGINT")
	}
	for _, p := range procs {
		if alive(p.pid) {
			t.Errorf("process %d (%s) survived hack/run", p.pid, p.comm)
		}
	}
}

func getInstance(t *testing.T, port int, id string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/instances/%s", port, id))
	if err != nil {
		t.Fatalf("GET instance %s: %v", id, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

type proc struct {
	pid  int
	comm string
}

// descendants lists every process below pid.
func descendants(pid int) []proc {
	children := map[int][]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 {
			continue
		}
		f := strings.Fields(s[close+2:])
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], proc{pid: p, comm: s[open+1 : close]})
	}
	var out []proc
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c.pid)
		}
	}
	walk(pid)
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	return f[0] != "Z"
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var errBusy = errors.New("port busy")

// freePortRange finds n consecutive ports free for TCP and UDP.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + (os.Getpid()*7919+try*101)%30000
		if err := portsFree(base, n); err == nil {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

func portsFree(base, n int) error {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return errBusy
		}
		l.Close()
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return errBusy
		}
		u.Close()
	}
	return nil
}
