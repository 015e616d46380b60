package qemu

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// kvmProbe is a boot sector (testdata/kvmprobe.S, assembled with GNU as --32 and objcopy -O binary): it enters
// 32-bit protected mode, turns paging on, computes a sum in a loop and writes 1 to the isa-debug-exit port
// 0xf4, so QEMU exits with status 3. Booting it is what "KVM works" means here: on machines where /dev/kvm
// exists but guests fail (nested virtualisation without the features QEMU expects), QEMU hangs or reports a
// KVM internal error as soon as the guest turns on paging, long before a real guest would show a picture.
const kvmProbe = "fa31c08ed88ed0bc007c0f0116807c0f20c06683c8010f22c0ea1e7c080066b810008ed88ec08ed0bf00100000b88300" +
	"000089070f20e083c8100f22e00f22df0f20c00d000000800f22c031c0b9a086010001c8e2fc3d50b5062a7504b001e6" +
	"f4b002e6f4f466900000000000000000ffff0000009acf00ffff00000092cf001700687c"

var kvmProbes sync.Map // binary -> bool

// ProbeKVM reports whether binary can actually run a guest with KVM: /dev/kvm must open and the probe boot
// sector must run to its exit port within 4 seconds (it takes a fraction of a second where KVM works). The answer is cached per binary for the process.
func ProbeKVM(ctx context.Context, binary string) bool {
	if v, ok := kvmProbes.Load(binary); ok {
		return v.(bool)
	}
	ok := probeKVM(ctx, binary) == nil
	kvmProbes.Store(binary, ok)
	return ok
}

func probeKVM(ctx context.Context, binary string) error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	f.Close()
	return runProbe(ctx, binary, "kvm")
}

// runProbe boots the probe sector with the accelerator; nil means it reached its exit port.
func runProbe(ctx context.Context, binary, accel string) error {
	dir, err := os.MkdirTemp("", "loco-kvm-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	code, _ := hex.DecodeString(kvmProbe)
	img := make([]byte, 512)
	copy(img, code)
	img[510], img[511] = 0x55, 0xAA
	disk := filepath.Join(dir, "probe.img")
	if err := os.WriteFile(disk, img, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "-accel", accel, "-machine", "pc", "-nodefaults", "-no-user-config",
		"-display", "none", "-m", "16", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
		"-drive", "file="+disk+",format=raw,if=ide,index=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		return nil
	}
	return fmt.Errorf("kvm probe: %v: %s", err, strings.TrimSpace(string(out)))
}
