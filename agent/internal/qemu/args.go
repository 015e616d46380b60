package qemu

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// args builds QEMU's command line for the profile; accel is "kvm" or "tcg". See the package documentation for
// why each flag is there.
func (c *Config) args(accel string) []string {
	a := []string{
		"-name", "loco-" + c.Name,
		"-no-user-config", "-nodefaults",
		"-m", strconv.Itoa(c.MemoryMB),
		"-display", "none",
		"-vnc", "unix:" + opt(c.VNCSocket()),
		"-qmp", "unix:" + opt(c.QMPSocket()) + ",server=on,wait=off",
	}
	if accel == "kvm" {
		a = append(a, "-accel", "kvm")
	} else {
		a = append(a, "-accel", "tcg,tb-size=64")
	}
	if c.AudioServer != "" {
		a = append(a, "-audiodev", "pa,id=snd0,server="+opt(c.AudioServer)+",out.stream-name=loco-"+opt(c.Name))
	} else {
		a = append(a, "-audiodev", "none,id=snd0")
	}
	switch c.Profile {
	case ProfileDemo:
		cmdline := "console=ttyS0 vga=0x314"
		if b, err := os.ReadFile(filepath.Join(c.GuestDir, "cmdline")); err == nil {
			cmdline = strings.TrimSpace(string(b))
		}
		cmdline += " loco.name=" + c.Name
		if c.Append != "" {
			cmdline += " " + c.Append
		}
		a = append(a,
			"-machine", "pc",
			"-vga", "std",
			"-device", "AC97,audiodev=snd0",
			"-serial", "file:"+opt(c.SerialLog()),
			"-rtc", "base=utc",
			"-kernel", filepath.Join(c.GuestDir, "vmlinuz"),
			"-initrd", filepath.Join(c.GuestDir, "initrd.gz"),
			"-append", cmdline,
		)
		a = append(a, c.nicArgs("pcnet")...)
	case ProfileWin98:
		a = append(a,
			"-machine", "pc-i440fx-7.2",
			"-cpu", "pentium2",
			"-vga", c.VGA,
			"-device", "sb16,audiodev=snd0",
			"-rtc", "base=localtime",
			"-drive", "file="+opt(c.Overlay)+",format=qcow2,if=ide,index=0,cache=writeback",
		)
		a = append(a, c.nicArgs(c.NIC)...)
		if c.CDROM != "" {
			a = append(a, "-drive", "file="+opt(c.CDROM)+",media=cdrom,if=ide,index=2,readonly=on",
				"-boot", "order=dc")
		} else {
			a = append(a, "-boot", "order=c")
		}
	}
	a = append(a, c.artArgs()...)
	return append(a, c.ExtraArgs...)
}

// opt escapes a value inside a QEMU option list, where a comma separates options and ",," is a literal comma.
func opt(s string) string { return strings.ReplaceAll(s, ",", ",,") }
