package daemon_test

import (
	"bytes"
	"context"
	"image/png"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// agentBinaries builds loco-agent and loco-vncsynth (module agent, through the workspace) once per test binary.
func agentBinaries(t testing.TB) (agent, synth string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "loco-broker-test-bin-")
		if buildErr != nil {
			return
		}
		for _, name := range []string{"loco-agent", "loco-vncsynth"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name),
				"github.com/loco-cluster/loco/agent/cmd/"+name).CombinedOutput()
			if err != nil {
				buildErr = err
				t.Logf("go build %s: %s", name, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the agent binaries: %v", buildErr)
	}
	return filepath.Join(binDir, "loco-agent"), filepath.Join(binDir, "loco-vncsynth")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// freeUDPPort returns a UDP port that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// startProcess runs a binary until the test ends (SIGTERM, then SIGKILL), its output in the test log on failure.
func startProcess(t testing.TB, bin string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
}

// startRealAgent runs loco-vncsynth and loco-agent (attached to the broker) for instance id.
func startRealAgent(t testing.TB, b *broker, id string) {
	t.Helper()
	agentBin, synthBin := agentBinaries(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "vnc.sock")
	startProcess(t, synthBin, "--listen", "unix:"+sock, "--scene", "town", "--label", id, "--events-stdout=false")
	startProcess(t, agentBin, "--instance-id", id, "--broker", b.grpc, "--vnc", "unix:"+sock,
		"--http-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--codec", "vp8", "--audio", "off",
		"--ice-udp-port", strconv.Itoa(freeUDPPort(t)), "--ice-tcp-port", "0", "--allow-loopback")
}

// TestRealAgentThroughBroker runs the real loco-agent against the synthetic VNC server, attached to the broker:
// it turns healthy on measured health, a Pion viewer completes a WHEP session through the broker and receives
// media, and control, screenshot and DELETE are relayed.
func TestRealAgentThroughBroker(t *testing.T) {
	b := startBroker(t, "", func(c *config.Broker) { c.Instances = []string{"loco-0"} }, daemon.Options{})
	startRealAgent(t, b, "loco-0")
	waitFor(t, 60*time.Second, "the real agent attached and healthy", func() bool {
		in, _ := b.Registry.Get("loco-0")
		return in.GetState() == locov1.InstanceState_INSTANCE_STATE_HEALTHY
	})
	in, _ := b.Registry.Get("loco-0")
	if in.GetHealth().GetVncFps() <= 0 || !in.GetHealth().GetVncConnected() {
		t.Errorf("health of the real agent: %v", in.GetHealth())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := agenttest.Watch(ctx, b.base, "loco-0", url.Values{"role": {"controller"}, "viewer": {"pion"}, "name": {"Pion"}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Role != "controller" {
		t.Errorf("granted role %q, want controller", v.Role)
	}
	select {
	case <-v.Track:
	case <-ctx.Done():
		t.Fatal("no media from the real agent through a WHEP session set up by the broker")
	}
	waitFor(t, 10*time.Second, "the controller reported by the agent", func() bool {
		in, _ := b.Registry.Get("loco-0")
		return in.GetController().GetId() == "pion"
	})
	r := do(t, "POST", b.base+"/api/instances/loco-0/control", "application/json", `{"viewerId":""}`)
	if r.code != 200 || !strings.Contains(r.body, `"controller":null`) {
		t.Errorf("release control: %d %q", r.code, r.body)
	}
	r = do(t, "GET", b.base+"/api/instances/loco-0/screenshot", "", "")
	if r.code != 200 {
		t.Fatalf("screenshot: %d %q", r.code, r.body)
	}
	img, err := png.Decode(bytes.NewReader([]byte(r.body)))
	if err != nil || img.Bounds().Dx() != 800 || img.Bounds().Dy() != 600 {
		t.Errorf("screenshot: %v, bounds %v (want 800x600)", err, img.Bounds())
	}
	if r := do(t, "DELETE", b.base+v.Location, "", ""); r.code != 200 {
		t.Errorf("DELETE: %d %q", r.code, r.body)
	}
	waitFor(t, 10*time.Second, "the agent to report no viewers", func() bool {
		in, _ := b.Registry.Get("loco-0")
		return in.GetHealth().GetViewers() == 0
	})
}
