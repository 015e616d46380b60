package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// BenchmarkWHEPSetup times WHEP session set-up through the broker: POST of a Pion viewer's offer until the 201 with
// the agent's answer (the viewer's own offer and the DELETE afterwards are not timed). "fake" agents answer with
// Pion in-process; "real" is loco-agent (VP8) on loco-vncsynth.
//
//	go test -run XXX -bench WHEPSetup -benchtime 100x ./internal/daemon/
func BenchmarkWHEPSetup(b *testing.B) {
	for _, kind := range []string{"fake", "real"} {
		b.Run(kind, func(b *testing.B) {
			br := startBroker(b, "", func(c *config.Broker) { c.Instances = []string{"loco-0"} }, daemon.Options{})
			if kind == "fake" {
				startAgent(b, agenttest.Config{ID: "loco-0", Broker: br.grpc})
			} else {
				startRealAgent(b, br, "loco-0")
			}
			waitFor(b, 60*time.Second, "agent healthy", func() bool {
				in, _ := br.Registry.Get("loco-0")
				return in.GetState() == locov1.InstanceState_INSTANCE_STATE_HEALTHY
			})
			var total time.Duration
			b.ResetTimer()
			b.StopTimer()
			for range b.N {
				v, sdp, err := agenttest.Offer()
				if err != nil {
					b.Fatal(err)
				}
				req, _ := http.NewRequest("POST", br.base+"/api/instances/loco-0/whep", strings.NewReader(sdp))
				req.Header.Set("Content-Type", "application/sdp")
				b.StartTimer()
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				total += time.Since(start)
				b.StopTimer()
				if resp.StatusCode != 201 {
					b.Fatalf("WHEP POST: %s", resp.Status)
				}
				dreq, _ := http.NewRequest("DELETE", br.base+resp.Header.Get("Location"), nil)
				if r, err := http.DefaultClient.Do(dreq); err == nil {
					r.Body.Close()
				}
				_ = v.Close()
			}
			b.ReportMetric(float64(b.N)/total.Seconds(), "sessions/s")
		})
	}
}

// procStat reads a process's resident set size (bytes) and CPU time (seconds) from /proc.
func procStat(b *testing.B, pid int) (rss int64, cpu float64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			rss = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return rss, (ut + st) / 100
}

// BenchmarkBrokerScale runs loco-broker as its own process with 1,000 static instances, 1,000 simulated agents
// attached over real gRPC (one connection each, health every second) and 20 SSE viewers, and reports the broker's
// resident memory, its CPU use, and the events each viewer receives per second, over a 10 s window.
//
//	go test -run XXX -bench BrokerScale -benchtime 1x ./internal/daemon/
func BenchmarkBrokerScale(b *testing.B) {
	const n, viewers = 1000, 20
	dir := b.TempDir()
	bin := filepath.Join(dir, "loco-broker")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/loco-broker").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("loco-%d", i)
	}
	httpAddr, grpcAddr := freeTCP(b), freeTCP(b)
	cmd := exec.Command(bin, "--http-listen", httpAddr, "--grpc-listen", grpcAddr, "--instances", strings.Join(ids, ","),
		"--recover", "off", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	base := "http://" + httpAddr
	waitFor(b, 30*time.Second, "broker up", func() bool {
		r, err := http.Get(base + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == 200
	})
	rssIdle, _ := procStat(b, cmd.Process.Pid)
	for i, id := range ids {
		cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cc.Close() })
		startAgent(b, agenttest.Config{ID: id, Conn: cc, NoMedia: true, HealthEvery: time.Second})
		if i%100 == 99 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	var healthy int
	waitFor(b, 120*time.Second, "1000 instances healthy", func() bool {
		healthy = 0
		r, err := http.Get(base + "/api/instances")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		healthy = strings.Count(string(body), `"INSTANCE_STATE_HEALTHY"`)
		return healthy == n
	})
	var events atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/events", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					events.Add(1)
				}
			}
		}()
	}
	time.Sleep(3 * time.Second) // snapshots delivered
	b.ResetTimer()
	_, cpu0 := procStat(b, cmd.Process.Pid)
	ev0 := events.Load()
	const window = 10 * time.Second
	time.Sleep(window)
	rss, cpu1 := procStat(b, cmd.Process.Pid)
	ev1 := events.Load()
	b.StopTimer()
	goroutines, heap := promValue(b, base, "go_goroutines"), promValue(b, base, "go_memstats_heap_inuse_bytes")
	cancel()
	wg.Wait()
	b.ReportMetric(goroutines, "goroutines")
	b.ReportMetric(heap/(1<<20), "MB-heap-inuse")
	b.ReportMetric(float64(rssIdle)/(1<<20), "MB-rss-idle")
	b.ReportMetric(float64(rss)/(1<<20), "MB-rss")
	b.ReportMetric((cpu1-cpu0)/window.Seconds(), "cpu-cores")
	b.ReportMetric(float64(ev1-ev0)/window.Seconds()/viewers, "events/s/viewer")
}

func freeTCP(b testing.TB) string {
	ln := listen(b, "127.0.0.1:0")
	defer ln.Close()
	return ln.Addr().String()
}

// promValue reads one unlabelled sample from the broker's /metrics.
func promValue(b *testing.B, base, name string) float64 {
	r, err := http.Get(base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
