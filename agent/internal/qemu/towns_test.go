package qemu

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/capture"
	"github.com/loco-cluster/loco/agent/internal/netplay"
	"github.com/loco-cluster/loco/hack/guest/world"
)

// world decodes the guest's world band from the current framebuffer.
func (in *demoInstance) world() (world.State, error) {
	st, err := world.State{}, world.ErrNoBand
	var fr capture.Frame
	in.fb.Peek(&fr, func(f *capture.Frame) {
		st, err = world.Read(func(x, y int) uint8 {
			p := f.Pix[y*f.Stride+4*x:]
			return uint8((114*int(p[0]) + 587*int(p[1]) + 299*int(p[2])) / 1000)
		}, f.Width, f.Height)
	})
	return st, err
}

func (in *demoInstance) waitWorld(t *testing.T, what string, timeout time.Duration, ok func(world.State) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last world.State
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := in.world()
		if err == nil && ok(st) {
			return
		}
		last, lastErr = st, err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not seen within %s (last band %+v, error %v, qemu %+v)", what, timeout, last, lastErr,
		in.sup.Status())
}

// town is a demo guest plugged into its own agent's network play switch.
type town struct {
	*demoInstance
	node *netplay.Node
}

func startTown(t *testing.T, name, art string) *town {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "q")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{StateDir: dir, Name: name}
	node, err := netplay.New(netplay.Config{Socket: filepath.Join(dir, "sw.sock"), VMSocket: cfg.NetVMSocket(),
		Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = node.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	in := startDemo(t, name, func(c *Config) {
		c.StateDir, c.ArtDir, c.NetSocket = dir, art, filepath.Join(dir, "sw.sock")
		c.Append = "loco.fps=5" // two guests under TCG on a shared machine: spare the CPU
	})
	return &town{demoInstance: in, node: node}
}

// TestTowns boots two demo guests, each with its own agent-side switch, peered over UDP on loopback, and one
// art share for both. Read through VNC, each guest lists the files of the share (also one written while it
// runs) and hears the other town's announcements on the shared Ethernet segment.
func TestTowns(t *testing.T) {
	art := t.TempDir()
	if err := os.WriteFile(filepath.Join(art, "welcome.txt"), []byte("hello from the share\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startTown(t, "town-a", art)
	b := startTown(t, "town-b", art)
	if err := a.node.SetPeers([]string{b.node.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	if err := b.node.SetPeers([]string{a.node.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{a.sup.Args("tcg"), b.sup.Args("tcg")} {
		joined := strings.Join(args, " ")
		if !strings.Contains(joined, "driver=vvfat") || !strings.Contains(joined, "-netdev dgram") {
			t.Fatalf("QEMU arguments lack the art drive or the netplay NIC: %s", joined)
		}
	}

	first := world.Hash([]string{"welcome.txt"})
	for _, tw := range []*town{a, b} {
		tw.waitWorld(t, tw.sup.Config().Name+" lists the share", 6*time.Minute, func(s world.State) bool {
			return s.Art == world.ArtMounted && s.ArtFiles == 1 && s.ArtHash == first
		})
	}
	t.Logf("both guests list the art share (%.0f s after the first QEMU started)",
		time.Since(a.sup.Status().Started).Seconds())

	// A file written on the share while the guests run appears inside both.
	if err := os.WriteFile(filepath.Join(art, "Station-Sign.bmp"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	both := world.Hash([]string{"welcome.txt", "Station-Sign.bmp"})
	for _, tw := range []*town{a, b} {
		tw.waitWorld(t, tw.sup.Config().Name+" sees the new file", 2*time.Minute, func(s world.State) bool {
			return s.Art == world.ArtMounted && s.ArtFiles == 2 && s.ArtHash == both
		})
	}
	t.Logf("a file written on the share shows in both guests after %.1f s", time.Since(written).Seconds())

	// Each town hears the other.
	for _, c := range []struct {
		tw    *town
		other string
	}{{a, "town-b"}, {b, "town-a"}} {
		want := world.Hash([]string{c.other})
		c.tw.waitWorld(t, c.tw.sup.Config().Name+" hears "+c.other, 2*time.Minute, func(s world.State) bool {
			return s.NetUp && s.Towns == 1 && s.TownsHash == want && s.Heard > 0 && s.Sent > 0
		})
	}
	for _, tw := range []*town{a, b} {
		st := tw.node.Stats()
		if st.FromGuest == 0 || st.ToPeers == 0 || st.FromPeers == 0 || st.ToGuest == 0 || st.Peers != 1 {
			t.Errorf("%s switch counters: %+v", tw.sup.Config().Name, st)
		}
		t.Logf("%s switch: %+v", tw.sup.Config().Name, st)
	}
	if !slices.Contains(a.sup.Args("tcg"), "pcnet,netdev=net0,mac="+a.sup.Config().MAC) ||
		a.sup.Config().MAC == b.sup.Config().MAC {
		t.Errorf("NIC MACs: %s and %s", a.sup.Config().MAC, b.sup.Config().MAC)
	}
}

// TestTownsArgs checks the win98 profile's art drive and netplay NIC, and the checks on their settings.
func TestTownsArgs(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "base.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	art := filepath.Join(dir, "art,1")
	if err := os.Mkdir(art, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Profile: ProfileWin98, Name: "loco-3", StateDir: dir, Image: img, ArtDir: art,
		NetSocket: filepath.Join(dir, "sw.sock"), NIC: "ne2k_pci"})
	if err != nil {
		t.Fatal(err)
	}
	a := strings.Join(s.Args("tcg"), " ")
	for _, want := range []string{
		"-blockdev driver=vvfat,node-name=art-dir0,dir=" + filepath.Join(dir, "art,,1") + ",fat-type=16",
		"read-only=on", "-blockdev driver=qcow2,node-name=art,file=art-file,backing=art-fat0",
		"-device ide-hd,drive=art,bus=ide.0,unit=1", "filename=" + filepath.Join(dir, "overlay-art.qcow2"),
		"-netdev dgram,id=net0,local.type=unix,local.path=" + dir + "/net-vm.sock,remote.type=unix,remote.path=" +
			dir + "/sw.sock",
		"-device ne2k_pci,netdev=net0,mac=52:54:00:",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("args lack %q:\n%s", want, a)
		}
	}
	if strings.Contains(a, "user,id=net0") {
		t.Errorf("user-mode network next to netplay: %s", a)
	}
	// Without netplay the demo profile has no NIC and win98 keeps its isolated user-mode network.
	if c := (Config{Profile: ProfileDemo}); len(c.nicArgs("pcnet")) != 0 {
		t.Errorf("demo NIC without netplay: %v", c.nicArgs("pcnet"))
	}

	gd := filepath.Join(dir, "guest")
	_ = os.Mkdir(gd, 0o755)
	for _, f := range []string{"vmlinuz", "initrd.gz"} {
		_ = os.WriteFile(filepath.Join(gd, f), nil, 0o644)
	}
	for name, c := range map[string]Config{
		"missing art dir": {ArtDir: filepath.Join(dir, "nope")},
		"art dir is file": {ArtDir: img},
		"multicast MAC":   {NetSocket: "/x/sw.sock", MAC: "01:00:5e:00:00:01"},
		"bad MAC":         {NetSocket: "/x/sw.sock", MAC: "52:54:00"},
	} {
		c.Profile, c.StateDir, c.GuestDir, c.Name = ProfileDemo, dir, gd, "x"
		if _, err := New(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// A share too large for FAT16 leaves the drive out (the game starts without it); a fitting one gets a
	// fresh overlay.
	if !s.prepareArt() {
		t.Fatal("an empty share was refused")
	}
	if _, err := os.Stat(s.cfg.ArtOverlay()); err != nil {
		t.Fatalf("art overlay: %v", err)
	}
	big, err := os.Create(filepath.Join(art, "huge.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(artMaxBytes + 1); err != nil { // sparse
		t.Fatal(err)
	}
	big.Close()
	if s.prepareArt() {
		t.Fatal("a share larger than FAT16 holds was accepted")
	}
}
