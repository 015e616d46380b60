// Package qemu supervises the instance's emulator: it starts QEMU for a profile, restarts it when it exits (with
// back-off), powers the guest down over QMP on shutdown, and reports its state for health.
//
// # Use
//
//	sup, err := qemu.New(qemu.Config{Profile: qemu.ProfileDemo, Name: "loco-0", StateDir: "/run/loco",
//		GuestDir: dir, AudioServer: pa.Address()})
//	go sup.Run(ctx)            // until ctx is done: then system_powerdown, GracePeriod, kill
//	sup.VNCAddress()           // "unix:/run/loco/vnc.sock", for package rfb
//	sup.Status()               // State (starting/running/exited/stopping), Restarts, PID, Accel, LastExit
//	sup.Reset(ctx)             // QMP system_reset (RestartKind RESET_GUEST)
//	sup.Restart(ctx)           // power down, kill after the grace period, start again (RESTART_QEMU)
//
// # Accelerator
//
// Accel "auto" uses KVM only when it works: /dev/kvm must open and a probe boot sector (see [ProbeKVM]) must run
// to completion under -accel kvm within 4 s. On machines where /dev/kvm exists but guests hang or die with a
// KVM internal error (nested virtualisation without what QEMU needs), the probe fails and TCG is used.
//
// # Flags common to both profiles, and why
//
//	-name loco-<name>             the process is recognisable in ps and QEMU's VNC desktop name says which instance
//	-no-user-config -nodefaults   no /etc/qemu config, no default NIC, serial, parallel, floppy or CD-ROM: exactly
//	                              the devices below, identical everywhere
//	-m <MB>                       guest RAM (demo 128, win98 256: Windows 98 is unstable above 512 MB)
//	-display none                 no window; the picture leaves through VNC only
//	-vnc unix:<dir>/vnc.sock      the agent's rfb client reads frames and injects input here; a unix socket needs
//	                              no port and is reachable by nobody outside the pod
//	-qmp unix:<dir>/qmp.sock,server=on,wait=off
//	                              the supervisor's control channel: query-status (running), system_powerdown,
//	                              system_reset; wait=off so QEMU does not wait for the client to boot
//	-accel kvm | -accel tcg,tb-size=64
//	                              KVM when the probe passes; TCG otherwise, with the translation cache bounded to
//	                              64 MB (the default of 1 GB is a lot per instance when nine run on one node)
//	-audiodev pa,id=snd0,server=unix:<pulse>/native,out.stream-name=loco-<name>
//	                              the sound card plays into the instance's private PulseAudio (package pulse),
//	                              whose null sink's monitor the agent encodes to Opus; -audiodev none,id=snd0
//	                              when no server is given (the card exists but is silent)
//
// The i440FX "pc" machine always has an i8042 PS/2 controller with a keyboard and a mouse. QEMU's VNC server
// announces the mouse as relative (PointerTypeChange) and feeds it from the agent's relative pointer events; keys
// arrive as XT scan codes through QEMU's extended key events. Nothing else (no USB tablet) is added, because
// Windows 98 reads the PS/2 mouse, and so does the demo guest.
//
// # Profile demo (the project's own guest, hack/guest)
//
//	-machine pc                   i440FX, like the win98 profile
//	-vga std                      Bochs VBE: the kernel's vga=0x314 selects 800x600 at 16 bits per pixel (vesafb)
//	-device AC97,audiodev=snd0    Intel 82801AA AC97: QEMU's SB16 is an ISA card and Debian's kernel has no ISA
//	                              sound drivers, so the demo guest uses AC97 (snd-intel8x0 + OSS emulation)
//	-serial file:<dir>/serial.log the guest's kernel and init messages, for diagnosis
//	-rtc base=utc                 the guest's clock shows UTC
//	-kernel, -initrd, -append     <GuestDir>/vmlinuz, initrd.gz, the command line in <GuestDir>/cmdline plus
//	                              loco.name=<name> and Config.Append
//
// # Profile win98 (a user's Windows 98 SE + LEGO Loco disk image, see hack/win98/README.md)
//
//	-machine pc-i440fx-7.2        i440FX/PIIX, the chipset Windows 98 has drivers for; the versioned machine type
//	                              keeps the virtual hardware identical across QEMU upgrades, so Windows does not
//	                              redetect devices in an existing image
//	-cpu pentium2                 a CPU Windows 98 knows (newer CPUID values make some Windows 9x code misbehave)
//	-vga std | vmware | cirrus    std (Bochs VBE) and vmware (VMware SVGA II) are the adapters SoftGPU drives,
//	                              giving Windows 98 800x600 16-bit colour and software 3D; cirrus is the fallback
//	                              with Windows' own driver
//	-device sb16,audiodev=snd0    Sound Blaster 16 at the classic 0x220, IRQ 5, DMA 1/5: Windows 98 has the driver
//	-rtc base=localtime           Windows keeps the hardware clock in local time
//	-drive file=<overlay>,format=qcow2,if=ide,index=0,cache=writeback
//	                              the primary IDE disk is the instance's qcow2 overlay over the shared, read-only
//	                              base image: every write (saved towns) lands in the overlay, the base is never
//	                              written; the overlay is created with qemu-img when missing and never overwritten
//	-netdev user,id=net0,restrict=on -device pcnet|ne2k_pci,netdev=net0
//	                              an AMD PCnet (or NE2000 PCI) NIC, both with Windows 98 drivers, on user-mode
//	                              networking with no route out; with Config.NetSocket the NIC joins the agents'
//	                              shared Ethernet segment for network play instead (netplay.go)
//	-drive file=<iso>,media=cdrom,if=ide,index=2,readonly=on -boot order=dc
//	                              only with Config.CDROM (installing): the CD first, then the disk; the Windows 98
//	                              CD's own boot menu defaults to the hard disk, so the reboots during setup work
//
// # Art drive and network play (both profiles)
//
// Config.ArtDir adds the shared art directory as a read-only FAT16 IDE drive (vvfat under a throw-away qcow2
// overlay; art.go says which flags and why), Config.NetSocket plugs a NIC into the agent's network play switch
// (-netdev dgram over unix sockets; netplay.go).
//
// # Supervision
//
// Run starts QEMU, marks it running once QMP answers query-status with a running VM and the VNC socket exists,
// and waits. When QEMU exits it is started again after MinBackoff, doubling up to MaxBackoff (reset after a run of
// more than a minute). When ctx is done (SIGTERM in the pod), or on Restart, it presses the ACPI power button
// (system_powerdown, repeated every 4 s because a guest still booting may miss it), waits up to GracePeriod for the
// guest to power off, then sends SIGTERM and finally SIGKILL. QEMU gets Pdeathsig SIGKILL, so it never outlives
// the agent.
package qemu
