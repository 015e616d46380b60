package webrtc

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	pion "github.com/pion/webrtc/v4"
)

// Config configures a [Manager].
type Config struct {
	// VideoMime is the video codec the encoder produces: "video/H264" or "video/VP8". Required.
	VideoMime string
	// Audio adds the Opus track.
	Audio bool
	// ListenIP is the address the ICE ports listen on (default all interfaces).
	ListenIP string
	// UDPPort is the one UDP port of the ICE UDP mux (0 picks a free port).
	UDPPort int
	// TCPPort is the ICE-TCP mux port; negative disables ICE-TCP, 0 picks a free port.
	TCPPort int
	// PublicIPs are advertised as host candidates instead of the interface addresses (NAT 1:1).
	PublicIPs []string
	// ICEServers are STUN/TURN servers ([ParseICEServers]).
	ICEServers []pion.ICEServer
	// AllowLoopback offers 127.0.0.1 candidates (local runs and tests).
	AllowLoopback bool
	// MinBitrate and MaxBitrate bound the congestion controller's target for the encoder (defaults 150 kbit/s
	// and 4 Mbit/s).
	MinBitrate, MaxBitrate int
	// GatherTimeout bounds ICE candidate gathering for an answer (default 5 s).
	GatherTimeout time.Duration
	// ConnectTimeout closes a session that does not connect within it (default 30 s).
	ConnectTimeout time.Duration
	// NoPlayoutDelay leaves the playout-delay extension out (for measurements that compare; never in production).
	NoPlayoutDelay bool
	// MaxViewers bounds the number of sessions (default 32).
	MaxViewers int
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.VideoMime != pion.MimeTypeH264 && c.VideoMime != pion.MimeTypeVP8 {
		return fmt.Errorf("%w: video codec %q", ErrConfig, c.VideoMime)
	}
	if c.MinBitrate <= 0 {
		c.MinBitrate = 150_000
	}
	if c.MaxBitrate <= 0 {
		c.MaxBitrate = 4_000_000
	}
	if c.MinBitrate > c.MaxBitrate {
		return fmt.Errorf("%w: min bitrate %d above max %d", ErrConfig, c.MinBitrate, c.MaxBitrate)
	}
	if c.GatherTimeout <= 0 {
		c.GatherTimeout = 5 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.MaxViewers <= 0 {
		c.MaxViewers = 32
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%w: public IP %q", ErrConfig, ip)
		}
	}
	return nil
}

// ParseICEServers parses the --ice-servers flag: comma-separated STUN/TURN URLs, with credentials written as
// "turn:user:pass@host:port" (the query, e.g. "?transport=tcp", is kept).
func ParseICEServers(s string) ([]pion.ICEServer, error) {
	var out []pion.ICEServer
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		scheme, rest, ok := strings.Cut(raw, ":")
		if !ok || (scheme != "stun" && scheme != "stuns" && scheme != "turn" && scheme != "turns") {
			return nil, fmt.Errorf("%w: ICE server %q: the scheme must be stun, stuns, turn or turns", ErrConfig, raw)
		}
		srv := pion.ICEServer{}
		if cred, host, ok := strings.Cut(rest, "@"); ok {
			user, pass, ok := strings.Cut(cred, ":")
			if !ok || user == "" {
				return nil, fmt.Errorf("%w: ICE server %q: credentials must be user:pass", ErrConfig, raw)
			}
			srv.Username, srv.Credential = user, pass
			rest = host
		}
		if rest == "" {
			return nil, fmt.Errorf("%w: ICE server %q: no host", ErrConfig, raw)
		}
		srv.URLs = []string{scheme + ":" + rest}
		out = append(out, srv)
	}
	return out, nil
}

// URLs returns the servers' URLs without credentials (for the hello message).
func URLs(servers []pion.ICEServer) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.URLs...)
	}
	return out
}
