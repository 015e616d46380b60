package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Status is a snapshot of the supervisor for health reports.
type Status struct {
	State State
	// Restarts counts QEMU starts after the first (exits and restart requests).
	Restarts uint32
	// PID of the running QEMU, 0 when none.
	PID int
	// Since is when State was entered.
	Since time.Time
	// Started is when the current (or last) QEMU process was started.
	Started time.Time
	// Accel is the accelerator in use ("kvm" or "tcg"), empty before the first start.
	Accel string
	// LastExit describes how the previous QEMU ended.
	LastExit string
}

// Supervisor runs one QEMU and keeps it running.
type Supervisor struct {
	cfg     Config
	log     *slog.Logger
	version string

	mu      sync.Mutex
	status  Status
	qmp     *qmp
	restart chan chan error // restart requests, answered once QEMU was stopped
	done    chan struct{}   // closed when Run returns
}

// New checks cfg and prepares a supervisor; Run starts QEMU.
func New(cfg Config) (*Supervisor, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath(cfg.Binary); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger.With("qemu", cfg.Name), restart: make(chan chan error),
		done: make(chan struct{})}
	if out, err := exec.Command(cfg.Binary, "--version").Output(); err == nil {
		s.version, _, _ = strings.Cut(string(out), "\n")
	}
	return s, nil
}

// Config returns the configuration with defaults filled in.
func (s *Supervisor) Config() Config { return s.cfg }

// VNCAddress is the VNC server for the agent's rfb client: "unix:<StateDir>/vnc.sock".
func (s *Supervisor) VNCAddress() string { return "unix:" + s.cfg.VNCSocket() }

// Version is the first line of `qemu --version`.
func (s *Supervisor) Version() string { return s.version }

// Status returns the current state.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Supervisor) setState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.State != st {
		s.status.State, s.status.Since = st, time.Now()
		s.log.Info("qemu state", "state", st.String())
	}
}

// Args returns the command line QEMU is started with (accelerator as given: "kvm" or "tcg").
func (s *Supervisor) Args(accel string) []string { return s.cfg.args(accel) }

// Run starts QEMU and restarts it whenever it exits, waiting MinBackoff..MaxBackoff in between, until ctx is
// done; then it powers the guest down over QMP (system_powerdown), waits up to GracePeriod for QEMU to exit and
// kills it after that. It returns nil after a clean stop, or an error when QEMU cannot be started at all.
func (s *Supervisor) Run(ctx context.Context) error {
	defer close(s.done)
	if err := os.MkdirAll(s.cfg.StateDir, 0o755); err != nil {
		return fmt.Errorf("qemu: state dir: %w", err)
	}
	if s.cfg.Profile == ProfileWin98 {
		created, err := ensureOverlay(ctx, s.cfg.QemuImg, s.cfg.Image, s.cfg.Overlay)
		if err != nil {
			return fmt.Errorf("qemu: %w", err)
		}
		s.log.Info("disk overlay", "overlay", s.cfg.Overlay, "base", s.cfg.Image, "created", created)
	}
	accel := s.cfg.Accel
	if accel == "auto" {
		accel = "tcg"
		if ProbeKVM(ctx, s.cfg.Binary) {
			accel = "kvm"
		}
	}
	s.mu.Lock()
	s.status.Accel = accel
	s.mu.Unlock()
	s.log.Info("qemu accelerator", "accel", accel, "version", s.version)
	go s.watchArt(ctx)

	backoff := s.cfg.MinBackoff
	for first := true; ; first = false {
		if !first {
			s.mu.Lock()
			s.status.Restarts++
			s.mu.Unlock()
		}
		started := time.Now()
		p, err := s.start(accel)
		if err != nil {
			s.setState(StateExited)
			return err
		}
		var reply chan error
		select {
		case <-p.exited:
			s.exited(p, "exited")
			if time.Since(started) > time.Minute {
				backoff = s.cfg.MinBackoff
			}
			s.log.Warn("qemu exited; restarting", "after", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			case reply = <-s.restart:
				reply <- nil // already stopped: a restart is what happens next anyway
			}
			backoff = min(2*backoff, s.cfg.MaxBackoff)
		case reply = <-s.restart:
			s.exited(p, "restart requested, "+s.stop(p))
			reply <- nil
			backoff = s.cfg.MinBackoff
		case <-ctx.Done():
			s.exited(p, "stopped, "+s.stop(p))
			return nil
		}
	}
}

// powerdownRepeat is the interval between power button presses while stopping.
const powerdownRepeat = 4 * time.Second

// process is one QEMU run.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid after exited
	tail   []string
}

func (s *Supervisor) start(accel string) (*process, error) {
	_ = os.Remove(s.cfg.VNCSocket())
	_ = os.Remove(s.cfg.QMPSocket())
	cfg := s.cfg
	if !s.prepareArt() {
		cfg.ArtDir = ""
	}
	args := cfg.args(accel)
	cmd := exec.Command(s.cfg.Binary, args...)
	// QEMU dies with the agent even if the agent is killed without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	cmd.Stdout = cmd.Stderr
	s.setState(StateStarting)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: start %s: %w", s.cfg.Binary, err)
	}
	s.log.Info("qemu started", "pid", cmd.Process.Pid, "args", strings.Join(args, " "))
	p := &process{cmd: cmd, exited: make(chan struct{})}
	s.mu.Lock()
	s.status.PID, s.status.Started = cmd.Process.Pid, time.Now()
	s.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.log.Info("qemu output", "line", sc.Text())
			p.tail = append(p.tail, sc.Text())
			if len(p.tail) > 4 {
				p.tail = p.tail[1:]
			}
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	go s.connect(p)
	return p, nil
}

// connect waits for QMP, then marks QEMU running once it reports a running VM and the VNC socket exists.
func (s *Supervisor) connect(p *process) {
	for {
		select {
		case <-p.exited:
			return
		case <-time.After(100 * time.Millisecond):
		}
		q, err := dialQMP(s.cfg.QMPSocket(), s.log)
		if err != nil {
			continue
		}
		for {
			if s.vmRunning(q) {
				break
			}
			select {
			case <-p.exited:
				q.close()
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		s.mu.Lock()
		select {
		case <-p.exited:
			s.mu.Unlock()
			q.close()
			return
		default:
		}
		s.qmp = q
		if s.status.State == StateStarting {
			s.status.State, s.status.Since = StateRunning, time.Now()
			s.log.Info("qemu state", "state", StateRunning.String())
		}
		s.mu.Unlock()
		return
	}
}

// vmRunning reports whether QMP says the VM runs and the VNC socket exists.
func (s *Supervisor) vmRunning(q *qmp) bool {
	ret, err := q.execute("query-status", nil, 5*time.Second)
	if err != nil {
		return false
	}
	var st struct {
		Running bool `json:"running"`
	}
	if json.Unmarshal(ret, &st) != nil || !st.Running {
		return false
	}
	_, err = os.Stat(s.cfg.VNCSocket())
	return err == nil
}

func (s *Supervisor) exited(p *process, why string) {
	desc := why
	if p.err != nil {
		desc += ": " + p.err.Error()
	}
	if len(p.tail) > 0 && p.err != nil {
		desc += " (" + strings.Join(p.tail, " | ") + ")"
	}
	s.mu.Lock()
	if s.qmp != nil {
		s.qmp.close()
		s.qmp = nil
	}
	s.status.PID = 0
	s.status.LastExit = desc
	s.mu.Unlock()
	s.setState(StateExited)
	s.log.Info("qemu ended", "how", desc)
}

// stop powers the guest down and kills QEMU if it is still there after the grace period. It says how QEMU ended.
func (s *Supervisor) stop(p *process) string {
	s.setState(StateStopping)
	// Press the power button, and again every few seconds: a guest still booting may not listen yet (the demo
	// guest loads its ACPI button driver a few seconds into the boot).
	grace := time.After(s.cfg.GracePeriod)
	for {
		if q := s.currentQMP(); q != nil {
			if _, err := q.execute("system_powerdown", nil, 5*time.Second); err != nil {
				s.log.Warn("system_powerdown failed", "err", err)
			}
		}
		select {
		case <-p.exited:
			return "guest powered off"
		case <-time.After(powerdownRepeat):
			continue
		case <-grace:
			s.log.Warn("guest did not power down in time; terminating QEMU", "grace", s.cfg.GracePeriod)
		}
		break
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return "terminated after the grace period"
	case <-time.After(3 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return "killed after the grace period"
}

func (s *Supervisor) currentQMP() *qmp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.qmp
}

// Reset presses the guest's reset button (QMP system_reset); QEMU keeps running.
func (s *Supervisor) Reset(ctx context.Context) error {
	q := s.currentQMP()
	if q == nil {
		return ErrNotRunning
	}
	_, err := q.execute("system_reset", nil, 5*time.Second)
	return err
}

// Restart powers the guest down (killing QEMU after the grace period) and starts it again. It returns once the
// old QEMU is gone; the new one follows at once.
func (s *Supervisor) Restart(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case s.restart <- reply:
	case <-s.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// QMP runs a QMP command on the running QEMU and returns its raw "return" value (diagnostics, tests).
func (s *Supervisor) QMP(ctx context.Context, command string, args any) ([]byte, error) {
	q := s.currentQMP()
	if q == nil {
		return nil, ErrNotRunning
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return q.execute(command, args, timeout)
}
