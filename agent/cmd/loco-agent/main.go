// The loco-agent binary runs next to one emulator: it streams the guest's screen and sound to browsers over WebRTC,
// injects their input into the guest, measures health and keeps an Attach stream to the broker.
//
// Flags (each with an environment fallback, LOCO_ + the flag name in upper snake case; see docs/api.md):
//
//	--instance-id      instance id reported to the broker (default: the hostname)
//	--pod              pod name for the hello (default: $POD_NAME)
//	--broker           broker gRPC address for the Attach stream; empty runs stand-alone
//	--vnc              attach to an external VNC server: unix:/path/vnc.sock or host:port
//	--profile          supervise QEMU and PulseAudio: demo or win98 (see supervise.go)
//	--http-listen      /healthz, /metrics, and /whep with --direct-whep (default :8080)
//	--grpc-listen      grpc.health.v1 (default :9090)
//	--direct-whep      serve WHEP on the agent itself (tests, single-instance use)
//	--codec            h264 or vp8 (default h264)
//	--fps              frame-rate cap (default 30)
//	--min-bitrate, --max-bitrate   congestion-control bounds in bit/s, k/M suffixes (default 150k, 4M)
//	--audio            auto (the supervised null sink's monitor; none without --profile), off, or a PulseAudio
//	                   source name on the default server ($PULSE_SERVER)
//	--ice-udp-port, --ice-tcp-port ICE UDP mux and ICE-TCP mux ports (default 8443, 8443; TCP 0 = off)
//	--public-ip        NAT 1:1 addresses to advertise (comma separated)
//	--ice-servers      STUN/TURN URLs (comma separated; turn:user:pass@host:port for credentials)
//	--allow-loopback   offer 127.0.0.1 candidates (local runs and tests)
//	--frozen-after     how long an unchanged picture may last before the screen counts as frozen (default 2m)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loco-cluster/loco/agent/internal/attach"
	"github.com/loco-cluster/loco/agent/internal/config"
	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/health"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/webrtc"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// options are the parsed flags.
type options struct {
	instanceID, pod, broker, vnc, profile string
	httpListen, grpcListen, codec, audio  string
	iceServers                            string
	directWHEP, allowLoopback             bool
	fps, udpPort, tcpPort                 int
	minBitrate, maxBitrate                config.Bits
	publicIPs                             config.List
	frozenAfter                           time.Duration
	supervise                             superviseOptions
}

func parseFlags(args []string) (*options, error) {
	host, _ := os.Hostname()
	o := &options{minBitrate: 150_000, maxBitrate: 4_000_000}
	fs := flag.NewFlagSet("loco-agent", flag.ContinueOnError)
	fs.StringVar(&o.instanceID, "instance-id", host, "instance id reported to the broker")
	fs.StringVar(&o.pod, "pod", os.Getenv("POD_NAME"), "pod name reported to the broker")
	fs.StringVar(&o.broker, "broker", "", "broker gRPC address; empty runs stand-alone")
	fs.StringVar(&o.vnc, "vnc", "", "external VNC server: unix:/path or host:port")
	fs.StringVar(&o.profile, "profile", "", "supervise QEMU: demo or win98")
	fs.StringVar(&o.httpListen, "http-listen", ":8080", "HTTP address (/healthz, /metrics, /whep)")
	fs.StringVar(&o.grpcListen, "grpc-listen", ":9090", "gRPC address (grpc.health.v1)")
	fs.BoolVar(&o.directWHEP, "direct-whep", false, "serve WHEP on the agent itself")
	fs.StringVar(&o.codec, "codec", "h264", "video codec: h264 or vp8")
	fs.IntVar(&o.fps, "fps", 30, "frame-rate cap")
	fs.Var(&o.minBitrate, "min-bitrate", "lowest video bitrate, bit/s")
	fs.Var(&o.maxBitrate, "max-bitrate", "highest video bitrate, bit/s")
	fs.StringVar(&o.audio, "audio", "auto", "audio source: auto, off or a PulseAudio source name")
	fs.IntVar(&o.udpPort, "ice-udp-port", 8443, "ICE UDP mux port")
	fs.IntVar(&o.tcpPort, "ice-tcp-port", 8443, "ICE-TCP mux port (0 = off)")
	fs.Var(&o.publicIPs, "public-ip", "NAT 1:1 addresses to advertise (comma separated)")
	fs.StringVar(&o.iceServers, "ice-servers", "", "STUN/TURN URLs (comma separated)")
	fs.BoolVar(&o.allowLoopback, "allow-loopback", false, "offer loopback candidates")
	fs.DurationVar(&o.frozenAfter, "frozen-after", 2*time.Minute, "unchanged picture counts as frozen after")
	o.supervise.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := config.ApplyEnv(fs, nil); err != nil {
		return nil, err
	}
	if (o.vnc == "") == (o.profile == "") {
		return nil, errors.New("give exactly one of --vnc (attach to a VNC server) and --profile (supervise QEMU)")
	}
	return o, nil
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		log.Error("bad flags", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("loco-agent failed", "err", err)
		os.Exit(1)
	}
}

// run wires the parts together and runs them until ctx is done.
func run(ctx context.Context, o *options, log *slog.Logger) error {
	codec, err := encode.ParseCodec(o.codec)
	if err != nil {
		return err
	}
	ice, err := webrtc.ParseICEServers(o.iceServers)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	sup := &supervision{vnc: o.vnc}
	if o.profile != "" {
		if sup, err = supervise(ctx, o, log); err != nil {
			return err
		}
	}
	audioServer, audioDevice, audioOff := sup.audioServer, sup.audioDevice, false
	switch o.audio {
	case "off":
		audioOff = true
	case "auto":
		audioOff = sup.audioDevice == ""
	default:
		audioServer, audioDevice = "", o.audio
	}
	tcpPort := o.tcpPort
	if tcpPort == 0 {
		tcpPort = -1
	}
	in, err := instance.New(instance.Config{
		VNC: sup.vnc, Codec: codec, FPS: o.fps,
		AudioServer: audioServer, AudioDevice: audioDevice, AudioOff: audioOff,
		WebRTC: webrtc.Config{UDPPort: o.udpPort, TCPPort: tcpPort, PublicIPs: o.publicIPs, ICEServers: ice,
			AllowLoopback: o.allowLoopback, MinBitrate: int(o.minBitrate), MaxBitrate: int(o.maxBitrate)},
		FrozenAfter: o.frozenAfter,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	sources := []health.Source{in.Figures}
	if sup.figures != nil {
		sources = append(sources, sup.figures)
	}
	mon := health.New(health.Config{Logger: log}, sources...)

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", mon.HealthzHandler())
	mux.Handle("GET /metrics", mon.MetricsHandler())
	if o.directWHEP {
		mux.Handle("/whep", in.WebRTC.WHEPHandler())
		mux.Handle("/whep/", in.WebRTC.WHEPHandler())
	}
	httpLn, err := net.Listen("tcp", o.httpListen)
	if err != nil {
		return fmt.Errorf("--http-listen: %w", err)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	grpcLn, err := net.Listen("tcp", o.grpcListen)
	if err != nil {
		return fmt.Errorf("--grpc-listen: %w", err)
	}
	grpcSrv := grpc.NewServer()
	healthpb.RegisterHealthServer(grpcSrv, mon.GRPC())

	var att *attach.Client
	if o.broker != "" {
		att, err = attach.New(attach.Config{
			Broker: o.broker,
			Hello: &locov1.AgentHello{
				InstanceId: o.instanceID, Pod: o.pod, AgentVersion: version, QemuVersion: sup.qemuVersion,
				GstreamerVersion: encode.Version(), VideoCodecs: []string{codec.MimeType()},
				AudioCodecs: audioCodecs(audioOff), InputProtocolVersion: 1, Profile: profileName(o.profile),
				Webrtc: &locov1.WebRTCEndpoint{UdpPort: uint32(in.WebRTC.UDPPort()),
					TcpPort: uint32(in.WebRTC.TCPPort()), PublicIps: o.publicIPs, IceServerUrls: webrtc.URLs(ice)},
			},
			Health:    mon.Latest,
			Media:     in,
			Restarter: sup.restarter,
			Logger:    log,
		})
		if err != nil {
			return err
		}
		in.SetEvents(instance.Events{SessionEnded: att.SessionEnded, ControlChanged: att.ControlChanged})
	}

	errs := make(chan error, 5)
	go func() { errs <- in.Run(ctx) }()
	go func() { errs <- mon.Run(ctx) }()
	go func() { errs <- httpSrv.Serve(httpLn) }()
	go func() { errs <- grpcSrv.Serve(grpcLn) }()
	n := 4
	if att != nil {
		go func() { errs <- att.Run(ctx) }()
		n++
	}
	log.Info("loco-agent running", "instance", o.instanceID, "vnc", sup.vnc, "codec", codec,
		"http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(), "ice_udp", in.WebRTC.UDPPort(),
		"broker", o.broker, "version", version)

	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
		n--
		cancel()
	}
	// Shut down in reverse order: stop taking requests, then let the media path and the health loop end.
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shutCancel()
	_ = httpSrv.Shutdown(shutCtx)
	stopped := make(chan struct{})
	go func() { grpcSrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutCtx.Done():
		grpcSrv.Stop()
	}
	for ; n > 0; n-- {
		if err := <-errs; first == nil && err != nil && !errors.Is(err, context.Canceled) &&
			!errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			first = err
		}
	}
	sup.wait()
	if errors.Is(first, http.ErrServerClosed) {
		first = nil
	}
	return first
}

func audioCodecs(off bool) []string {
	if off {
		return nil
	}
	return []string{"audio/opus"}
}

func profileName(p string) string {
	if p == "" {
		return "external"
	}
	return p
}
