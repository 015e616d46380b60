package main

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// wantedModules are the kernel modules the guest loads itself (everything else it needs is built into the Debian
// kernel): the PS/2 mouse protocol driver, the event interface for the keyboard and power button, the ACPI
// button, the AC97 driver and the OSS PCM emulation that gives /dev/dsp.
var wantedModules = []string{"psmouse", "evdev", "button", "snd-intel8x0", "snd-pcm-oss"}

type cmdline struct {
	name  string
	fps   int
	still bool
}

func mountAll() error {
	for _, m := range []struct{ src, dst, fs string }{
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(m.src, m.dst, m.fs, 0, ""); err != nil && err != syscall.EBUSY {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	return nil
}

func readCmdline() cmdline {
	c := cmdline{name: "loco", fps: 20}
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return c
	}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "loco.name":
			c.name = v
		case "loco.still":
			c.still = v == "1"
		case "loco.fps":
			if n, err := strconv.Atoi(v); err == nil && n > 0 && n <= 60 {
				c.fps = n
			}
		}
	}
	return c
}

// loadModules loads each wanted module after its dependencies, as listed in modules.dep of the running kernel.
func loadModules(names []string) []error {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return []error{err}
	}
	release := strings.TrimRight(string(unsafe.Slice((*byte)(unsafe.Pointer(&u.Release[0])), len(u.Release))), "\x00")
	dir := "/lib/modules/" + release
	deps, err := readModulesDep(dir + "/modules.dep")
	if err != nil {
		return []error{err}
	}
	byName := map[string]string{}
	for p := range deps {
		byName[strings.TrimSuffix(path.Base(p), ".ko")] = p
	}
	loaded := map[string]bool{}
	var errs []error
	var load func(p string)
	load = func(p string) {
		if loaded[p] {
			return
		}
		loaded[p] = true
		// modules.dep lists dependencies so that the last one must be loaded first.
		d := deps[p]
		for i := len(d) - 1; i >= 0; i-- {
			load(d[i])
		}
		if err := finitModule(dir + "/" + p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
	}
	for _, n := range names {
		p, ok := byName[n]
		if !ok {
			p, ok = byName[strings.ReplaceAll(n, "-", "_")]
		}
		if !ok {
			errs = append(errs, fmt.Errorf("module %s not in modules.dep", n))
			continue
		}
		load(p)
	}
	return errs
}

func readModulesDep(file string) (map[string][]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	deps := map[string][]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		mod, rest, ok := strings.Cut(s.Text(), ":")
		if ok {
			deps[mod] = strings.Fields(rest)
		}
	}
	return deps, s.Err()
}

const sysFinitModule = 313 // finit_module(2) on x86-64

func finitModule(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	params := []byte{0}
	_, _, e := syscall.Syscall(sysFinitModule, f.Fd(), uintptr(unsafe.Pointer(&params[0])), 0)
	if e != 0 && e != syscall.EEXIST {
		return e
	}
	return nil
}

// graphicsMode switches the virtual terminal to graphics mode so the framebuffer console stops drawing over the scene.
func graphicsMode() {
	f, err := os.OpenFile("/dev/tty0", os.O_RDWR, 0)
	if err != nil {
		logf("tty0: %v", err)
		return
	}
	const kdSetMode, kdGraphics = 0x4B3A, 1
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kdSetMode, kdGraphics); e != 0 {
		logf("KDSETMODE: %v", e)
	}
	// Keep the descriptor open: closing the last one may switch the console back to text mode.
	keepOpen = append(keepOpen, f)
}

var keepOpen []*os.File
