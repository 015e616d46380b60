package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProbeSector boots the KVM probe's boot sector under TCG: it must reach its exit port, so a failure under
// KVM says something about KVM and not about the probe.
func TestProbeSector(t *testing.T) {
	if err := runProbe(context.Background(), "qemu-system-x86_64", "tcg"); err != nil {
		t.Fatalf("probe under TCG: %v", err)
	}
	t.Logf("KVM usable on this machine: %v", ProbeKVM(context.Background(), "qemu-system-x86_64"))
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "base.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"no state dir":  {Profile: ProfileWin98, Image: img},
		"bad profile":   {Profile: "dos", StateDir: dir},
		"demo no guest": {Profile: ProfileDemo, StateDir: dir},
		"demo missing":  {Profile: ProfileDemo, StateDir: dir, GuestDir: dir},
		"win98 no img":  {Profile: ProfileWin98, StateDir: dir},
		"win98 missing": {Profile: ProfileWin98, StateDir: dir, Image: filepath.Join(dir, "nope")},
		"bad vga":       {Profile: ProfileWin98, StateDir: dir, Image: img, VGA: "voodoo"},
		"bad nic":       {Profile: ProfileWin98, StateDir: dir, Image: img, NIC: "e1000e"},
		"bad accel":     {Profile: ProfileWin98, StateDir: dir, Image: img, Accel: "hvf"},
		"bad name":      {Profile: ProfileWin98, StateDir: dir, Image: img, Name: "a,b"},
		"long dir":      {Profile: ProfileWin98, StateDir: "/" + strings.Repeat("x", 120), Image: img},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestWin98Args(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "base,1.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Profile: ProfileWin98, Name: "loco-3", StateDir: dir, Image: img, AudioServer: "unix:/p/native"})
	if err != nil {
		t.Fatal(err)
	}
	a := strings.Join(s.Args("tcg"), " ")
	for _, want := range []string{
		"-machine pc-i440fx-7.2", "-cpu pentium2", "-m 256", "-vga std", "-device sb16,audiodev=snd0",
		"-audiodev pa,id=snd0,server=unix:/p/native", "-rtc base=localtime", "-device pcnet,netdev=net0",
		"-drive file=" + filepath.Join(dir, "overlay.qcow2") + ",format=qcow2,if=ide", "-vnc unix:" + dir + "/vnc.sock",
		"-qmp unix:" + dir + "/qmp.sock,server=on,wait=off", "-accel tcg", "-nodefaults", "-display none",
	} {
		if !strings.Contains(a, want) {
			t.Errorf("args lack %q:\n%s", want, a)
		}
	}
	if !slices.Contains(s.Args("kvm"), "kvm") {
		t.Errorf("kvm args: %v", s.Args("kvm"))
	}
}

// TestOverlay creates the overlay over a base image, checks it is backed by the base, and that an existing
// overlay (with the user's saved towns) is never replaced.
func TestOverlay(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	overlay := filepath.Join(dir, "state", "overlay.qcow2")
	created, err := ensureOverlay(context.Background(), "qemu-img", base, overlay)
	if err != nil || !created {
		t.Fatalf("first ensureOverlay: created=%v err=%v", created, err)
	}
	out, err := exec.Command("qemu-img", "info", overlay).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "backing file: "+base) {
		t.Fatalf("overlay info: %v\n%s", err, out)
	}
	// Write into the overlay as a guest would, then ask again.
	if out, err := exec.Command("qemu-io", "-c", "write -P 0x5a 0 64k", overlay).CombinedOutput(); err != nil {
		t.Fatalf("qemu-io: %v: %s", err, out)
	}
	before, _ := os.Stat(overlay)
	created, err = ensureOverlay(context.Background(), "qemu-img", base, overlay)
	if err != nil || created {
		t.Fatalf("second ensureOverlay: created=%v err=%v", created, err)
	}
	after, _ := os.Stat(overlay)
	if !os.SameFile(before, after) || before.Size() != after.Size() || !before.ModTime().Equal(after.ModTime()) {
		t.Fatal("existing overlay was replaced or modified")
	}
	if _, err := ensureOverlay(context.Background(), "qemu-img", filepath.Join(dir, "missing"), filepath.Join(dir, "o2")); !errors.Is(err, ErrConfig) {
		t.Fatalf("missing base: %v, want ErrConfig", err)
	}
}

func TestStateStrings(t *testing.T) {
	for st, want := range map[State]string{StateUnknown: "unknown", StateStarting: "starting", StateRunning: "running",
		StateExited: "exited", StateStopping: "stopping"} {
		if st.String() != want {
			t.Errorf("%d: %q, want %q", st, st.String(), want)
		}
	}
	if StateRunning.Proto().String() != "QEMU_STATE_RUNNING" || StateUnknown.Proto().String() != "QEMU_STATE_UNSPECIFIED" {
		t.Error("Proto mapping")
	}
}

// TestWin98BlankDisk runs the win98 profile over a blank base image (no Windows: the BIOS finds nothing to boot):
// the overlay is created, QEMU comes up running with its VNC socket, and since nothing in the guest answers the
// power button, stopping kills QEMU after the grace period.
func TestWin98BlankDisk(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "32M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v: %s", err, out)
	}
	s, err := New(Config{Profile: ProfileWin98, Name: "w98", StateDir: filepath.Join(dir, "st"), Image: base,
		Accel: "tcg", NIC: "ne2k_pci", VGA: "cirrus", GracePeriod: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(60 * time.Second)
	for s.Status().State != StateRunning {
		if time.Now().After(deadline) {
			t.Fatalf("not running: %+v", s.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(s.Config().Overlay); err != nil {
		t.Fatalf("overlay: %v", err)
	}
	if _, err := os.Stat(s.Config().VNCSocket()); err != nil {
		t.Fatalf("vnc socket: %v", err)
	}
	if ret, err := s.QMP(ctx, "query-status", nil); err != nil || !strings.Contains(string(ret), "running") {
		t.Fatalf("query-status: %s, %v", ret, err)
	}
	// A restart request stops this QEMU (killed after the grace period: nothing answers the power button) and
	// starts a new one at once.
	first := s.Status().PID
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	deadline = time.Now().Add(60 * time.Second)
	for st := s.Status(); st.State != StateRunning || st.Restarts != 1 || st.PID == first; st = s.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("not running again after Restart: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last := s.Status().LastExit; last != "restart requested, terminated after the grace period" {
		t.Fatalf("LastExit after Restart: %q", last)
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}

	pid := s.Status().PID
	begin := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	done <- nil
	took := time.Since(begin)
	if took < 2*time.Second {
		t.Fatalf("stopped after %s, before the 2 s grace period: the blank guest cannot have powered down", took)
	}
	if alive := exec.Command("kill", "-0", strconv.Itoa(pid)).Run() == nil; alive {
		t.Fatalf("QEMU pid %d still alive after Run returned", pid)
	}
	if st := s.Status(); st.LastExit != "stopped, terminated after the grace period" {
		t.Fatalf("LastExit %q", st.LastExit)
	}
}
