// Package ctl is lococtl, the operator's command line for a running broker over gRPC (loco.v1.Ops and
// grpc.health.v1): ls, health, watch, restart and screenshot, printing readable tables or, with -o json, the
// protobuf JSON mapping (the same shapes as the HTTP API).
package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loco-cluster/loco/broker/internal/config"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

const usage = `lococtl talks to a loco-broker over gRPC.

Usage:
  lococtl [--broker host:port] [--timeout 10s] <command> [flags] [args]

Commands:
  ls                          list instances in grid order          (-o table|json)
  health <id>                 one instance's state and health        (-o table|json)
  watch                       stream instance changes until Ctrl+C   (-o table|json)
  restart <id> [--reason r]   restart an instance (pod deleted / QEMU restarted)
  screenshot <id> -o file.png save the instance's current picture

Environment: LOCO_BROKER, LOCO_TIMEOUT.
`

// IO is where a command reads and writes.
type IO struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type env struct {
	IO
	ops     locov1.OpsClient
	health  healthpb.HealthClient
	timeout time.Duration
}

// Run runs lococtl with args (without the program name) until done or ctx ends.
func Run(ctx context.Context, args []string, io IO) error {
	fs := flag.NewFlagSet("lococtl", flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	fs.Usage = func() { fmt.Fprint(io.Stderr, usage) }
	broker := fs.String("broker", "localhost:9090", "broker gRPC address")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each call (not of watch)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := config.ApplyEnv(fs, io.Getenv); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	cc, err := grpc.NewClient(*broker, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("broker %s: %w", *broker, err)
	}
	defer cc.Close()
	e := &env{IO: io, ops: locov1.NewOpsClient(cc), health: healthpb.NewHealthClient(cc), timeout: *timeout}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "ls", "list":
		return e.ls(ctx, rest)
	case "health":
		return e.healthCmd(ctx, rest)
	case "watch":
		return e.watch(ctx, rest)
	case "restart":
		return e.restart(ctx, rest)
	case "screenshot":
		return e.screenshot(ctx, rest)
	case "help":
		fs.Usage()
		return nil
	}
	fs.Usage()
	return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
}

// parse parses a command's flags, which may come before or after its positional arguments.
func parse(fs *flag.FlagSet, args []string, npos int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != npos {
		return nil, fmt.Errorf("%w: %s takes %d argument(s), got %q", ErrUsage, fs.Name(), npos, pos)
	}
	return pos, nil
}

func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("o", "table", "output: table or json")
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return fmt.Errorf("%w: -o %q (want table or json)", ErrUsage, o)
	}
	return nil
}

var jsonOut = protojson.MarshalOptions{EmitUnpopulated: true, Multiline: true}

func (e *env) printJSON(m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.Stdout, "%s\n", b)
	return err
}

func (e *env) ls(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ls", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	out := outputFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.ops.ListInstances(ctx, &locov1.ListInstancesRequest{})
	if err != nil {
		return fmt.Errorf("list instances: %w", err)
	}
	if *out == "json" {
		return e.printJSON(resp)
	}
	tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tID\tSTATE\tREADY\tFPS\tVIEWERS\tCONTROLLER\tSINCE\tREASON")
	for _, in := range resp.GetInstances() {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%d\t%s\t%s\t%s\n", in.GetOrdinal(), in.GetId(), stateName(in.GetState()),
			in.GetWorkload().GetReady(), fps(in), in.GetHealth().GetViewers(), in.GetController().GetName(),
			age(in), in.GetReason())
	}
	return tw.Flush()
}

func stateName(s locov1.InstanceState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "INSTANCE_STATE_"))
}

func fps(in *locov1.Instance) string {
	if in.GetHealth() == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f", in.GetHealth().GetVncFps())
}

func age(in *locov1.Instance) string {
	if in.GetStateSince() == nil {
		return "-"
	}
	return time.Since(in.GetStateSince().AsTime()).Round(time.Second).String()
}

func (e *env) healthCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	out := outputFlag(fs)
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	hc, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{Service: pos[0]})
	if err != nil {
		return fmt.Errorf("health %s: %w", pos[0], err)
	}
	resp, err := e.ops.GetInstance(ctx, &locov1.GetInstanceRequest{Id: pos[0]})
	if err != nil {
		return fmt.Errorf("get %s: %w", pos[0], err)
	}
	in := resp.GetInstance()
	if *out == "json" {
		return e.printJSON(in)
	}
	h := in.GetHealth()
	tw := tabwriter.NewWriter(e.Stdout, 2, 4, 2, ' ', 0)
	rows := [][2]string{
		{"instance", in.GetId()},
		{"serving", hc.GetStatus().String()},
		{"state", fmt.Sprintf("%s for %s", stateName(in.GetState()), age(in))},
		{"reason", in.GetReason()},
		{"pod", strings.Trim(in.GetWorkload().GetNamespace()+"/"+in.GetWorkload().GetPod(), "/")},
		{"address", in.GetWorkload().GetAddress()},
		{"agent", in.GetAgent().GetAgentVersion()},
	}
	if h != nil {
		rows = append(rows,
			[2]string{"verdict", h.GetVerdict().String()},
			[2]string{"vnc", fmt.Sprintf("connected=%v %.1f fps", h.GetVncConnected(), h.GetVncFps())},
			[2]string{"encoded", fmt.Sprintf("%.1f fps, %.1f ms mean, %.1f ms p95", h.GetEncodedFps(), h.GetEncodeMsMean(), h.GetEncodeMsP95())},
			[2]string{"screen", fmt.Sprintf("%s %dx%d, %.0fs since change", h.GetScreen(), h.GetScreenMode().GetWidth(), h.GetScreenMode().GetHeight(), h.GetSecondsSinceChange())},
			[2]string{"audio", fmt.Sprintf("%.1f dBFS", h.GetAudioRmsDbfs())},
			[2]string{"viewers", fmt.Sprintf("%d, rtt %.1f ms, loss %.3f, sent %d bit/s", h.GetViewers(), h.GetRttMs(), h.GetLossFraction(), h.GetSentBps())},
			[2]string{"qemu", fmt.Sprintf("%s, %d restarts", h.GetQemu(), h.GetQemuRestarts())},
		)
		if len(h.GetReasons()) > 0 {
			rows = append(rows, [2]string{"reasons", strings.Join(h.GetReasons(), "; ")})
		}
	}
	if c := in.GetController(); c != nil {
		rows = append(rows, [2]string{"controller", c.GetName() + " (" + c.GetId() + ")"})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

func (e *env) watch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	out := outputFlag(fs)
	if _, err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	stream, err := e.ops.WatchInstances(ctx, &locov1.WatchInstancesRequest{})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	line := protojson.MarshalOptions{EmitUnpopulated: true}
	if *out == "table" {
		fmt.Fprintf(e.Stdout, "%-8s %-8s %-24s %-10s %s\n", "SEQ", "EVENT", "ID", "STATE", "REASON")
	}
	for {
		ev, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("watch: %w", err)
		}
		if *out == "json" {
			b, err := line.Marshal(ev)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "%s\n", b)
			continue
		}
		in := ev.GetInstance()
		fmt.Fprintf(e.Stdout, "%-8d %-8s %-24s %-10s %s\n", ev.GetSequence(),
			strings.ToLower(strings.TrimPrefix(ev.GetType().String(), "EVENT_TYPE_")), in.GetId(), stateName(in.GetState()), in.GetReason())
	}
}

func (e *env) restart(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restart", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	reason := fs.String("reason", "lococtl restart", "why, recorded in the Kubernetes Event and logs")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.ops.RestartInstance(ctx, &locov1.RestartInstanceRequest{Id: pos[0], Reason: *reason})
	if err != nil {
		return fmt.Errorf("restart %s: %w", pos[0], err)
	}
	_, err = fmt.Fprintf(e.Stdout, "%s: %s\n", pos[0], resp.GetAction())
	return err
}

func (e *env) screenshot(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("screenshot", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	file := fs.String("o", "", "PNG file to write (- for standard output)")
	pos, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("%w: screenshot needs -o file.png", ErrUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	resp, err := e.ops.Screenshot(ctx, &locov1.ScreenshotRequest{Id: pos[0]})
	if err != nil {
		return fmt.Errorf("screenshot %s: %w", pos[0], err)
	}
	if *file == "-" {
		_, err = e.Stdout.Write(resp.GetPng())
		return err
	}
	if err := os.WriteFile(*file, resp.GetPng(), 0o644); err != nil {
		return fmt.Errorf("screenshot %s: %w", pos[0], err)
	}
	fmt.Fprintf(e.Stderr, "%s: %d bytes written to %s\n", pos[0], len(resp.GetPng()), *file)
	return nil
}
