package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/loco-cluster/loco/agent/internal/attach"
	"github.com/loco-cluster/loco/agent/internal/health"
)

// This file is where --profile is wired: starting PulseAudio (agent/internal/pulse) and QEMU
// (agent/internal/qemu) and telling the media path where to attach.

// superviseOptions are the flags of supervised mode.
type superviseOptions struct{}

// register adds the supervision flags.
func (s *superviseOptions) register(*flag.FlagSet) {}

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

// supervise starts PulseAudio and QEMU for --profile and keeps them running until ctx ends.
func supervise(_ context.Context, o *options, _ *slog.Logger) (*supervision, error) {
	return nil, fmt.Errorf("--profile %q: supervision is not wired into loco-agent yet", o.profile)
}
