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
	r := startRun(t, 2)
	r.waitHealthy(t, 15*time.Minute) // includes the first build of the agent (cgo GStreamer bindings)

	for _, path := range []string{"/", "/api/instances"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", r.port, path))
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
	if q := r.qemus(); len(q) != 2 {
		t.Fatalf("want 2 QEMU processes under hack/run, found %+v", q)
	}

	// SIGKILL one QEMU: its agent starts a new one, and the broker's view of the instance shows the restart.
	var victim int
	for _, p := range r.qemus() {
		if strings.Contains(cmdline(p.pid), "loco.name=loco-1") {
			victim = p.pid
		}
	}
	if victim == 0 {
		t.Fatalf("no QEMU of loco-1 among %+v", r.qemus())
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// QEMU's restart back-off, a TCG boot and the health verdict, on a loaded machine.
	restartDeadline := time.Now().Add(6 * time.Minute)
	for {
		body := getInstance(t, r.port, "loco-1")
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
	r.interrupt(t)
}

// TestRunWin98Profile runs hack/run with IMAGE= (a blank disk: the BIOS finds nothing to boot, but the screen
// shows it, so the instance is healthy): the agent runs the win98 profile, creates the instance's overlay over
// the image in OVERLAY_DIR, and Ctrl+C still ends everything (the blank guest ignores the power button, so its
// agent kills QEMU after the grace period).
func TestRunWin98Profile(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", img, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	overlays := filepath.Join(dir, "overlays")
	r := startRun(t, 1, "IMAGE="+img, "OVERLAY_DIR="+overlays)
	r.waitHealthy(t, 15*time.Minute)
	if q := r.qemus(); len(q) != 1 || !strings.Contains(cmdline(q[0].pid), "-cpu pentium2") {
		t.Fatalf("want one win98-profile QEMU, found %+v", q)
	}
	out, err := exec.Command("qemu-img", "info", "-U", filepath.Join(overlays, "loco-0.qcow2")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "backing file: "+img) {
		t.Fatalf("overlay: %v\n%s", err, out)
	}
	r.interrupt(t)
}

// run is a running hack/run.
type run struct {
	cmd    *exec.Cmd
	port   int
	n      int
	lines  chan string
	exited chan error
	log    []string
	procs  []proc // every process seen below hack/run

	drained chan struct{} // closed when the output after "healthy" has been read (into rest)
	rest    []string
}

func startRun(t *testing.T, n int, env ...string) *run {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	r := &run{port: freePort(t), n: n, lines: make(chan string, 100), exited: make(chan error, 1),
		drained: make(chan struct{})}
	r.cmd = exec.Command(filepath.Join(root, "hack/run"))
	r.cmd.Env = append(append(os.Environ(), "N="+strconv.Itoa(n), "PORT="+strconv.Itoa(r.port),
		"GRPC_PORT="+strconv.Itoa(freePort(t)), "AGENT_PORT_BASE="+strconv.Itoa(freePortRange(t, 3*n)),
		"HEALTH_TIMEOUT=600", "KEEP_LOGS=0"), env...)
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.cmd.Stdout
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
		r.exited <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-r.exited:
			case <-time.After(90 * time.Second):
				_ = r.cmd.Process.Kill()
			}
		}
	})
	return r
}

// waitHealthy waits for hack/run to say that all instances are healthy.
func (r *run) waitHealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	want := fmt.Sprintf("%d instances healthy", r.n)
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("hack/run ended early:\n%s", strings.Join(r.log, "\n"))
			}
			t.Log(l)
			r.log = append(r.log, l)
			if strings.Contains(l, "not all healthy") {
				t.Fatalf("instances did not become healthy:\n%s", strings.Join(r.log, "\n"))
			}
			if strings.Contains(l, want) {
				go func() { // keep draining; interrupt logs the rest
					defer close(r.drained)
					for l := range r.lines {
						r.rest = append(r.rest, l)
					}
				}()
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %s:\n%s", want, timeout, strings.Join(r.log, "\n"))
		}
	}
}

// qemus lists the QEMU processes below hack/run (and remembers every process seen).
func (r *run) qemus() []proc {
	var q []proc
	for _, p := range descendants(r.cmd.Process.Pid) {
		r.procs = append(r.procs, p)
		if strings.HasPrefix(p.comm, "qemu-system") {
			q = append(q, p)
		}
	}
	return q
}

// interrupt sends SIGINT like Ctrl+C and checks that hack/run ends cleanly and every process it started is gone.
func (r *run) interrupt(t *testing.T) {
	t.Helper()
	r.qemus()
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.exited:
		if err != nil {
			t.Fatalf("hack/run after SIGINT: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("hack/run still running 90 s after SIGINT")
	}
	<-r.drained
	for _, l := range r.rest {
		t.Log(l)
	}
	for _, p := range r.procs {
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
