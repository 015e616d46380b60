package qemu

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
