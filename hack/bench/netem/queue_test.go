package netem_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary act as the UDP echo prober inside the network namespace.
const childEnv = "LOCO_NETEM_TEST_PROBE"

type probeResult struct {
	Sent, Received int
	MinRTTms       float64
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		res, err := probe(400, 2*time.Millisecond)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = json.NewEncoder(os.Stdout).Encode(res)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// probe sends n numbered UDP datagrams to an echo server on 127.0.0.1 and counts the echoes.
func probe(n int, every time.Duration) (probeResult, error) {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return probeResult{}, fmt.Errorf("listen: %w", err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 64)
		for {
			k, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = srv.WriteToUDP(buf[:k], from)
		}
	}()
	c, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return probeResult{}, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	sent := make([]time.Time, n)
	res := probeResult{Sent: n, MinRTTms: -1}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			k, err := c.Read(buf)
			if err != nil || k < 4 {
				return
			}
			rtt := float64(time.Since(sent[binary.BigEndian.Uint32(buf)])) / 1e6
			res.Received++
			if res.MinRTTms < 0 || rtt < res.MinRTTms {
				res.MinRTTms = rtt
			}
		}
	}()
	for i := range n {
		sent[i] = time.Now()
		_, _ = c.Write(binary.BigEndian.AppendUint32(nil, uint32(i)))
		time.Sleep(every)
	}
	<-done
	return res, nil
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestQueueDropsAndDelays runs loco-netem in a network namespace of its own behind an NFQUEUE rule and checks that
// UDP echoes through it are delayed by at least the configured delay each way, that about the configured share is
// lost, and that an outage (SIGUSR1) drops everything.
func TestQueueDropsAndDelays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (network namespaces, iptables); make test runs as root")
	}
	bin := filepath.Join(t.TempDir(), "loco-netem")
	run(t, "go", "build", "-o", bin, "../cmd/loco-netem")
	ns := fmt.Sprintf("loco-netem-test-%d", os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	run(t, "ip", "netns", "exec", ns, "iptables", "-I", "OUTPUT", "-p", "udp", "-j", "NFQUEUE", "--queue-num", "0")

	netem := exec.Command("ip", "netns", "exec", ns, bin, "--loss=0.2", "--delay=30ms", "--jitter=0")
	stdout, err := netem.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	netem.Stderr = os.Stderr
	if err := netem.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netem.Process.Kill(); _ = netem.Wait() })
	ready := make([]byte, 6)
	if _, err := stdout.Read(ready); err != nil || string(ready) != "ready\n" {
		t.Fatalf("loco-netem did not get ready: %q %v", ready, err)
	}

	probeIn := func() probeResult {
		cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0])
		cmd.Env = append(os.Environ(), childEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		var r probeResult
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("probe output %q: %v", out, err)
		}
		return r
	}

	r := probeIn()
	// Each echo crosses the queue twice: it survives with probability 0.8² = 0.64.
	lost := 1 - float64(r.Received)/float64(r.Sent)
	if lost < 0.2 || lost > 0.55 {
		t.Errorf("lost %.0f%% of echoes, want about 36%% (20..55)", lost*100)
	}
	if r.MinRTTms < 55 {
		t.Errorf("fastest echo took %.1f ms, want at least 2 x 30 ms", r.MinRTTms)
	}

	if err := netem.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if r := probeIn(); r.Received != 0 {
		t.Errorf("during an outage %d of %d echoes came back, want none", r.Received, r.Sent)
	}
}
