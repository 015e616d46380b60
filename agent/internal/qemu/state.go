package qemu

import locov1 "github.com/loco-cluster/loco/proto/loco/v1"

// State is the supervised QEMU's process state.
type State int

// States, in the order a healthy run goes through them.
const (
	StateUnknown  State = iota // not started yet
	StateStarting              // process started, QMP/VNC not answering yet
	StateRunning               // process running, QMP answered and the VNC socket exists
	StateExited                // process exited; it will be started again after a back-off
	StateStopping              // powering the guest down (shutdown or restart request)
)

func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	case StateStopping:
		return "stopping"
	}
	return "unknown"
}

// Proto returns the state as reported in loco.v1.HealthReport.
func (s State) Proto() locov1.QemuState {
	switch s {
	case StateStarting:
		return locov1.QemuState_QEMU_STATE_STARTING
	case StateRunning:
		return locov1.QemuState_QEMU_STATE_RUNNING
	case StateExited:
		return locov1.QemuState_QEMU_STATE_EXITED
	case StateStopping:
		return locov1.QemuState_QEMU_STATE_STOPPING
	}
	return locov1.QemuState_QEMU_STATE_UNSPECIFIED
}
