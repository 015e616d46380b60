package qemu

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Profiles.
const (
	ProfileDemo  = "demo"
	ProfileWin98 = "win98"
)

// Config is what the supervisor runs. New fills in the defaults.
type Config struct {
	// Profile is ProfileDemo or ProfileWin98.
	Profile string
	// Name is the instance name: QEMU's -name, and the demo guest shows it (loco.name=).
	Name string
	// StateDir holds the sockets (vnc.sock, qmp.sock), the serial log and, by default, the win98 overlay.
	// Required. Unix socket paths are limited to 107 bytes, so keep it short.
	StateDir string
	// Binary is the QEMU executable (default qemu-system-x86_64); QemuImg is qemu-img (default on PATH).
	Binary, QemuImg string
	// Accel is "auto" (default: KVM when ProbeKVM says it works, else TCG), "kvm" or "tcg".
	Accel string
	// MemoryMB is the guest RAM (default 128 for demo, 256 for win98).
	MemoryMB int
	// AudioServer is the PulseAudio server QEMU plays into ("unix:/path/native", see package pulse). Empty
	// gives the guest its sound card with a silent backend (-audiodev none).
	AudioServer string

	// GuestDir (demo) is a directory built by hack/guest/build: vmlinuz, initrd.gz and cmdline.
	GuestDir string
	// Append (demo) is added to the kernel command line, e.g. "loco.fps=10".
	Append string

	// Image (win98) is the read-only base disk image (any format qemu-img knows).
	Image string
	// Overlay (win98) is the qcow2 overlay over Image that receives every write (default StateDir/overlay.qcow2).
	// Created when missing, never overwritten.
	Overlay string
	// CDROM (win98) is an optional ISO image (e.g. for installing); the guest tries to boot from it first.
	CDROM string
	// VGA (win98) is "std" (default), "vmware" or "cirrus".
	VGA string
	// NIC (win98) is "pcnet" (default), "ne2k_pci" or "none".
	NIC string

	// ArtDir is the shared art directory shown to the guest as a FAT drive (art.go). Empty: no art drive.
	ArtDir string
	// NetSocket is the agent's network play switch socket (package netplay) the guest's NIC is plugged into
	// (netplay.go); the demo profile gets a NIC only with it. MAC is the NIC's address (default: derived from
	// Name).
	NetSocket, MAC string

	// GracePeriod is how long a powered-down guest may take before QEMU is killed (default 20 s).
	GracePeriod time.Duration
	// MinBackoff and MaxBackoff bound the wait before restarting an exited QEMU (defaults 1 s and 30 s); the
	// wait doubles after each exit and starts over after a run of more than a minute.
	MinBackoff, MaxBackoff time.Duration
	// ExtraArgs are appended to QEMU's command line.
	ExtraArgs []string
	// Logger gets the supervisor's events; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.StateDir == "" {
		return fmt.Errorf("%w: StateDir is required", ErrConfig)
	}
	abs, err := filepath.Abs(c.StateDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	c.StateDir = abs
	if len(filepath.Join(abs, "vnc.sock")) > 107 {
		return fmt.Errorf("%w: StateDir %q too long for unix sockets", ErrConfig, abs)
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	if strings.ContainsAny(c.Name, " ,\t\n\"'") {
		return fmt.Errorf("%w: instance name %q has spaces, commas or quotes", ErrConfig, c.Name)
	}
	if c.Binary == "" {
		c.Binary = "qemu-system-x86_64"
	}
	if c.QemuImg == "" {
		c.QemuImg = "qemu-img"
	}
	switch c.Accel {
	case "":
		c.Accel = "auto"
	case "auto", "kvm", "tcg":
	default:
		return fmt.Errorf("%w: accel %q (auto, kvm or tcg)", ErrConfig, c.Accel)
	}
	switch c.Profile {
	case ProfileDemo:
		if c.MemoryMB == 0 {
			c.MemoryMB = 128
		}
		if c.GuestDir == "" {
			return fmt.Errorf("%w: the demo profile needs GuestDir (hack/guest/build prints it)", ErrConfig)
		}
		for _, f := range []string{"vmlinuz", "initrd.gz"} {
			if _, err := os.Stat(filepath.Join(c.GuestDir, f)); err != nil {
				return fmt.Errorf("%w: demo guest: %w", ErrConfig, err)
			}
		}
	case ProfileWin98:
		if c.MemoryMB == 0 {
			c.MemoryMB = 256
		}
		if c.Image == "" {
			return fmt.Errorf("%w: the win98 profile needs Image", ErrConfig)
		}
		if _, err := os.Stat(c.Image); err != nil {
			return fmt.Errorf("%w: base image: %w", ErrConfig, err)
		}
		if c.Overlay == "" {
			c.Overlay = filepath.Join(c.StateDir, "overlay.qcow2")
		}
		if c.CDROM != "" {
			if _, err := os.Stat(c.CDROM); err != nil {
				return fmt.Errorf("%w: cdrom: %w", ErrConfig, err)
			}
		}
		switch c.VGA {
		case "":
			c.VGA = "std"
		case "std", "vmware", "cirrus":
		default:
			return fmt.Errorf("%w: vga %q (std, vmware or cirrus)", ErrConfig, c.VGA)
		}
		switch c.NIC {
		case "":
			c.NIC = "pcnet"
		case "pcnet", "ne2k_pci", "none":
		default:
			return fmt.Errorf("%w: nic %q (pcnet, ne2k_pci or none)", ErrConfig, c.NIC)
		}
	default:
		return fmt.Errorf("%w: profile %q (demo or win98)", ErrConfig, c.Profile)
	}
	if err := c.artDefaults(); err != nil {
		return err
	}
	if err := c.netDefaults(); err != nil {
		return err
	}
	if c.MemoryMB < 16 || c.MemoryMB > 4096 {
		return fmt.Errorf("%w: memory %d MB", ErrConfig, c.MemoryMB)
	}
	if c.GracePeriod == 0 {
		c.GracePeriod = 20 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// VNCSocket is the path of QEMU's VNC server socket.
func (c Config) VNCSocket() string { return filepath.Join(c.StateDir, "vnc.sock") }

// QMPSocket is the path of QEMU's QMP socket.
func (c Config) QMPSocket() string { return filepath.Join(c.StateDir, "qmp.sock") }

// SerialLog is where the guest's serial port is written (demo profile).
func (c Config) SerialLog() string { return filepath.Join(c.StateDir, "serial.log") }
