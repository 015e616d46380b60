package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/loco-cluster/loco/agent/internal/attach"
	"github.com/loco-cluster/loco/agent/internal/health"
	"github.com/loco-cluster/loco/agent/internal/pulse"
	"github.com/loco-cluster/loco/agent/internal/qemu"
)

// This file is where --profile is wired: starting PulseAudio (agent/internal/pulse) and QEMU
// (agent/internal/qemu) and telling the media path where to attach.

// superviseOptions are the flags of supervised mode (docs/api.md).
type superviseOptions struct {
	stateDir, guestDir, image, overlay, cdrom, accel, vga string
	memoryMB                                              int
	towns                                                 townsOptions // towns.go
}

// register adds the supervision flags.
func (s *superviseOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&s.stateDir, "state-dir", "/run/loco", "supervised mode: QEMU's sockets, serial log, PulseAudio dir, default overlay")
	fs.StringVar(&s.guestDir, "guest-dir", "", "--profile demo: the demo guest directory (hack/guest/build prints it)")
	fs.StringVar(&s.image, "image", "", "--profile win98: read-only base disk image")
	fs.StringVar(&s.overlay, "overlay", "", "--profile win98: qcow2 overlay over --image (default <state-dir>/overlay.qcow2)")
	fs.StringVar(&s.cdrom, "cdrom", "", "--profile win98: ISO image to boot from before the disk (installing)")
	fs.StringVar(&s.accel, "accel", "auto", "accelerator: auto (KVM if a probe guest runs), kvm or tcg")
	fs.StringVar(&s.vga, "vga", "std", "--profile win98: std, vmware or cirrus")
	fs.IntVar(&s.memoryMB, "memory", 0, "guest RAM in MB (default: demo 128, win98 256)")
	s.towns.register(fs)
}

// supervision is what supervised mode hands to the media path. In --vnc mode only vnc is set.
type supervision struct {
	// vnc is the VNC address of the supervised QEMU.
	vnc string
	// audioServer and audioDevice are the PulseAudio server and the null sink's monitor ("" without audio).
	audioServer, audioDevice string
	// restarter serves the broker's restart requests (nil: FAILED_PRECONDITION).
	restarter attach.Restarter
	// figures adds QEMU's state to health reports.
	figures health.Source
	// qemuVersion goes into the hello.
	qemuVersion string
	// done is closed when supervision has stopped (after ctx ended); nil when nothing runs.
	done chan struct{}
}

// wait blocks until supervision stopped.
func (s *supervision) wait() {
	if s.done != nil {
		<-s.done
	}
}

// supervise starts PulseAudio and QEMU for --profile and keeps them running until ctx ends; then QEMU is powered
// down (QMP system_powerdown, killed after the grace period) and PulseAudio stopped after it.
func supervise(ctx context.Context, o *options, log *slog.Logger) (*supervision, error) {
	so := o.supervise
	// PulseAudio outlives ctx until QEMU has gone, so that QEMU never loses its audio server while powering down.
	paCtx, paCancel := context.WithCancel(context.Background())
	pa, err := pulse.Start(paCtx, pulse.Config{Dir: filepath.Join(so.stateDir, "pulse"), Logger: log.With("part", "pulse")})
	if err != nil {
		paCancel()
		return nil, fmt.Errorf("--profile %s: %w", o.profile, err)
	}
	netSocket, err := so.towns.startNetplay(ctx, so.stateDir, log)
	if err != nil {
		_ = pa.Stop()
		paCancel()
		return nil, fmt.Errorf("--profile %s: %w", o.profile, err)
	}
	sup, err := qemu.New(qemu.Config{
		Profile: o.profile, Name: o.instanceID, StateDir: so.stateDir, Accel: so.accel, MemoryMB: so.memoryMB,
		AudioServer: pa.Address(), GuestDir: so.guestDir, Image: so.image, Overlay: so.overlay, CDROM: so.cdrom,
		VGA: so.vga, ArtDir: so.towns.artDir, NetSocket: netSocket, Logger: log.With("part", "qemu"),
	})
	if err != nil {
		_ = pa.Stop()
		paCancel()
		return nil, fmt.Errorf("--profile %s: %w", o.profile, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer paCancel()
		if err := sup.Run(ctx); err != nil {
			log.Error("QEMU supervision ended", "err", err)
		}
		if err := pa.Stop(); err != nil {
			log.Warn("stopping PulseAudio", "err", err)
		}
	}()
	return &supervision{
		vnc:         sup.VNCAddress(),
		audioServer: pa.Address(),
		audioDevice: pa.MonitorSource(),
		restarter:   sup,
		figures: func(f *health.Figures) {
			st := sup.Status()
			f.Supervised, f.QEMU, f.QEMURestarts = true, st.State.Proto(), st.Restarts
		},
		qemuVersion: sup.Version(),
		done:        done,
	}, nil
}
