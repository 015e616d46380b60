package e2etest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

// buildBinaries builds loco-agent and loco-vncsynth once per benchmark run.
func buildBinaries(b *testing.B) (agent, synth string) {
	b.Helper()
	dir := b.TempDir()
	for _, name := range []string{"loco-agent", "loco-vncsynth"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), "../../cmd/"+name)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("building %s: %v", name, err)
		}
	}
	return filepath.Join(dir, "loco-agent"), filepath.Join(dir, "loco-vncsynth")
}

func freeAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// cpuSeconds reads a process's user+system CPU time from /proc.
func cpuSeconds(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func metric(b *testing.B, url, name string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// BenchmarkAgentCPU runs loco-agent (a separate process) against loco-vncsynth at 30 fps with one Go viewer over
// direct WHEP and reports the agent's CPU use (percent of one core), encode time per frame and bits sent, for each
// codec and scene: "motion" (every pixel changes), "town" (a still town with small moving trains), "still".
//
//	go test -run XXX -bench AgentCPU -benchtime 1x ./internal/e2etest/
func BenchmarkAgentCPU(b *testing.B) {
	agentBin, synthBin := buildBinaries(b)
	for _, codec := range []string{"h264", "vp8"} {
		for _, scene := range []string{vncsynth.SceneMotion, vncsynth.SceneTown, vncsynth.SceneStill} {
			b.Run(codec+"/"+scene, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					measureAgent(b, agentBin, synthBin, codec, scene, "")
				}
			})
		}
	}
}

func start(b *testing.B, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// BenchmarkAgentLayers is BenchmarkAgentCPU (H.264) with a full-size viewer alone, beside a grid-tile viewer
// (maxWidth=320: the half-size layer), and a tile viewer alone: what the second encoder costs the agent.
//
//	go test -run XXX -bench AgentLayers -benchtime 1x ./internal/e2etest/
func BenchmarkAgentLayers(b *testing.B) {
	agentBin, synthBin := buildBinaries(b)
	for _, scene := range []string{vncsynth.SceneMotion, vncsynth.SceneTown} {
		for _, set := range []struct {
			name    string
			queries []string
		}{{"full", []string{""}}, {"full+tile", []string{"", "?maxWidth=320"}}, {"tile", []string{"?maxWidth=320"}}} {
			b.Run(scene+"/"+set.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					measureAgent(b, agentBin, synthBin, "h264", scene, set.queries...)
				}
			})
		}
	}
}

// measureAgent runs the agent with one viewer per WHEP query string and reports the agent's CPU use and, per
// viewer, what it received.
func measureAgent(b *testing.B, agentBin, synthBin, codec, scene string, queries ...string) {
	b.StopTimer()
	sock := filepath.Join(b.TempDir(), "vnc.sock")
	start(b, synthBin, "-listen", "unix:"+sock, "-scene", scene, "-fps", "30", "-events-stdout=false")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	httpAddr := freeAddr(b)
	agent := start(b, agentBin, "--vnc", "unix:"+sock, "--codec", codec, "--http-listen", httpAddr,
		"--grpc-listen", freeAddr(b), "--ice-udp-port", "0", "--ice-tcp-port", "0", "--direct-whep",
		"--allow-loopback", "--audio", "off")
	base := "http://" + httpAddr
	// Two minutes: a loaded shared machine delays the agent's first frame (it returns as soon as /healthz is 200).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the agent did not become healthy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	viewers := make([]*webrtctest.Viewer, len(queries))
	for i, q := range queries {
		v, err := webrtctest.New()
		if err != nil {
			b.Fatal(err)
		}
		defer v.Close()
		offer, _ := v.Offer()
		resp, err := http.Post(base+"/whep"+q, "application/sdp", strings.NewReader(offer))
		if err != nil {
			b.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("WHEP: %d %s", resp.StatusCode, answer)
		}
		if err := v.Accept(string(answer)); err != nil {
			b.Fatal(err)
		}
		viewers[i] = v
	}
	time.Sleep(3 * time.Second) // warm up: connection, first keyframe, bitrate estimate
	const window = 10 * time.Second
	f0, b0, c0 := make([]int, len(viewers)), make([]int, len(viewers)), cpuSeconds(b, agent.Process.Pid)
	for i, v := range viewers {
		f0[i], b0[i] = len(v.Frames()), received(v)
	}
	b.StartTimer()
	time.Sleep(window)
	b.StopTimer()
	c1 := cpuSeconds(b, agent.Process.Pid)
	b.ReportMetric(100*(c1-c0)/window.Seconds(), "cpu-%")
	for i, v := range viewers {
		unit := "" // the first viewer's figures keep their historical names
		if i > 0 {
			unit = fmt.Sprintf("-v%d", i+1)
		}
		b.ReportMetric(float64(len(v.Frames())-f0[i])/window.Seconds(), "frames/s"+unit)
		b.ReportMetric(float64(received(v)-b0[i])*8/window.Seconds()/1000, "video-kbit/s"+unit)
	}
	b.ReportMetric(metric(b, base+"/metrics", "loco_agent_encode_ms_mean"), "encode-ms")
	b.ReportMetric(metric(b, base+"/metrics", "loco_agent_encode_ms_p95"), "encode-p95-ms")
}

func received(v *webrtctest.Viewer) int {
	n := 0
	for _, f := range v.Frames() {
		n += len(f.Data)
	}
	return n
}

// BenchmarkKeyFrameAfterPLI measures the time from a viewer's PLI to the arrival of the complete keyframe, on a
// still screen (the worst case: no frame is due, the pacer must be kicked) at 800x600.
//
//	go test -run XXX -bench KeyFrameAfterPLI -benchtime 20x ./internal/e2etest/
func BenchmarkKeyFrameAfterPLI(b *testing.B) {
	for _, codec := range []encode.Codec{encode.H264, encode.VP8} {
		b.Run(string(codec), func(b *testing.B) {
			_, addr := startSynth(b, vncsynth.Config{Scene: vncsynth.SceneStill})
			in := startAgent(b, addr, codec, nil)
			v, _ := connect(b, in, "bench", false)
			ctx := waitCtx(b, 60*time.Second)
			if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 1 }); err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				time.Sleep(150 * time.Millisecond) // no request pending, nothing in flight
				n := len(v.Frames())
				b.StartTimer()
				sent := time.Now()
				if err := v.SendPLI(); err != nil {
					b.Fatal(err)
				}
				got, err := waitKeyFrame(ctx, v, n, sent)
				if err != nil {
					b.Fatal("no keyframe after PLI")
				}
				total += got
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms-to-keyframe")
		})
	}
}
