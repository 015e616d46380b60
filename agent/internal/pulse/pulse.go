// Package pulse runs the agent's private PulseAudio server: one per instance, with its own runtime directory, no
// system or user configuration, a null sink that QEMU plays into, and that sink's monitor source for the agent's
// Opus encoder (pulsesrc) to record.
//
// The daemon is started as
//
//	pulseaudio -n --daemonize=no --system=no --use-pid-file=no --exit-idle-time=-1 --disallow-exit
//	    --log-target=stderr -L "module-null-sink sink_name=<sink> ..." -L "module-native-protocol-unix socket=<dir>/native auth-anonymous=1"
//
// with HOME, XDG_RUNTIME_DIR, PULSE_RUNTIME_PATH and PULSE_STATE_PATH inside the runtime directory:
//   - -n skips default.pa, so nothing from /etc/pulse (or a user's ~/.config/pulse) loads: in particular
//     module-suspend-on-idle is never loaded, which would otherwise suspend the idle null sink and leave the
//     monitor silent; module-always-sink, udev/ALSA detection, D-Bus and X11 modules stay out as well.
//   - the null sink is loaded before the native protocol, so when the socket appears the sink exists;
//   - auth-anonymous=1 lets QEMU and pulsesrc connect without a cookie (the socket lives in a private directory);
//   - --exit-idle-time=-1 and --disallow-exit keep it alive while nobody is connected;
//   - --system=no with a private HOME works as root too (PulseAudio only warns).
//
// Clients reach it at [Server.Address] ("unix:<dir>/native", for QEMU's -audiodev pa,server= and PULSE_SERVER).
package pulse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Config says how to run the server.
type Config struct {
	// Dir is the private runtime directory (created if missing; the socket is Dir/native). Required.
	Dir string
	// Sink is the null sink's name (default "loco"); its monitor source is Sink+".monitor".
	Sink string
	// Rate and Channels of the null sink (defaults 48000 and 2, what Opus wants).
	Rate, Channels int
	// Binary is the pulseaudio executable (default "pulseaudio" on PATH).
	Binary string
	// StartTimeout bounds the wait for the socket (default 10 s).
	StartTimeout time.Duration
	// Logger receives the daemon's log lines at debug level; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: Dir is required", ErrConfig)
	}
	if c.Sink == "" {
		c.Sink = "loco"
	}
	if strings.ContainsAny(c.Sink, " \t\"'=") {
		return fmt.Errorf("%w: sink name %q", ErrConfig, c.Sink)
	}
	if c.Rate == 0 {
		c.Rate = 48000
	}
	if c.Channels == 0 {
		c.Channels = 2
	}
	if c.Binary == "" {
		c.Binary = "pulseaudio"
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is a running PulseAudio daemon.
type Server struct {
	cfg    Config
	socket string
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // exit status, valid after done
	stop   sync.Once
}

// Start starts the daemon and returns once its socket accepts connections. The daemon stops when ctx is done or
// Stop is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pulse: runtime dir: %w", err)
	}
	cfg.Dir = dir
	for _, d := range []string{dir, filepath.Join(dir, "runtime"), filepath.Join(dir, "state")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("pulse: runtime dir: %w", err)
		}
	}
	s := &Server{cfg: cfg, socket: filepath.Join(dir, "native"), done: make(chan struct{})}
	_ = os.Remove(s.socket) // a stale socket from a previous run would fool the readiness check
	s.cmd = exec.Command(cfg.Binary, "-n", "--daemonize=no", "--system=no", "--use-pid-file=no",
		"--exit-idle-time=-1", "--disallow-exit", "--log-target=stderr", "--log-level=notice",
		"-L", fmt.Sprintf("module-null-sink sink_name=%s rate=%d channels=%d", cfg.Sink, cfg.Rate, cfg.Channels),
		"-L", fmt.Sprintf("module-native-protocol-unix socket=%s auth-anonymous=1", s.socket))
	s.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_RUNTIME_DIR=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"PULSE_RUNTIME_PATH=" + filepath.Join(dir, "runtime"),
		"PULSE_STATE_PATH=" + filepath.Join(dir, "state"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
	}
	// If the agent dies without cleaning up, the kernel kills the daemon too.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("pulse: %w", err)
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("pulse: start %s: %w", cfg.Binary, err)
	}
	log := cfg.Logger.With("pid", s.cmd.Process.Pid)
	var tail lastLines
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			tail.add(sc.Text())
			log.Debug("pulseaudio", "line", sc.Text())
		}
		_, _ = io.Copy(io.Discard, stderr)
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Stop()
		case <-s.done:
		}
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%w (log: %s)", err, tail.String())
	}
	log.Info("pulseaudio ready", "address", s.Address(), "monitor", s.MonitorSource())
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(s.cfg.StartTimeout)
	for {
		if c, err := net.DialTimeout("unix", s.socket, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("%w: exited during start: %v", ErrStart, s.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: socket %s not ready after %s", ErrStart, s.socket, s.cfg.StartTimeout)
		}
	}
}

// Address is the server address for clients: "unix:<dir>/native".
func (s *Server) Address() string { return "unix:" + s.socket }

// Socket is the path of the native protocol socket.
func (s *Server) Socket() string { return s.socket }

// Sink is the null sink QEMU plays into.
func (s *Server) Sink() string { return s.cfg.Sink }

// MonitorSource is the source that records what is played into the sink (for pulsesrc device=...).
func (s *Server) MonitorSource() string { return s.cfg.Sink + ".monitor" }

// Done is closed when the daemon has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop terminates the daemon (SIGTERM, then SIGKILL after 5 s) and waits for it. It returns nil when the daemon
// ended because of the stop.
func (s *Server) Stop() error {
	s.stop.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	<-s.done
	var exit *exec.ExitError
	if s.err != nil && !errors.As(s.err, &exit) {
		return fmt.Errorf("pulse: %w", s.err)
	}
	return nil
}

// lastLines keeps the last few log lines for error messages.
type lastLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *lastLines) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 8 {
		l.lines = l.lines[1:]
	}
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, " | ")
}
