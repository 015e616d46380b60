package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/loco-cluster/loco/agent/internal/config"
	"github.com/loco-cluster/loco/agent/internal/netplay"
	"github.com/loco-cluster/loco/agent/internal/qemu"
)

// This file wires what connects an instance to the others: the art share (--art-dir, a drive in the guest, see
// agent/internal/qemu/art.go) and network play (--netplay-listen, --netplay-peers: the guest's NIC on the agents'
// shared Ethernet segment, see agent/internal/netplay).

// townsOptions are the art and network play flags (docs/api.md).
type townsOptions struct {
	artDir, netplayListen string
	netplayPeers          config.List
}

func (t *townsOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&t.artDir, "art-dir", "", "supervised mode: shared art directory shown to the guest as a read-only FAT drive")
	fs.StringVar(&t.netplayListen, "netplay-listen", "", "supervised mode: UDP host:port of this agent's network play switch (empty: no network play)")
	fs.Var(&t.netplayPeers, "netplay-peers", "network play peers, host:port comma separated (a headless Service name finds every pod)")
}

// startNetplay starts the network play switch when --netplay-listen is set and returns the socket QEMU's NIC is
// plugged into ("" without network play). The switch runs until ctx ends.
func (t *townsOptions) startNetplay(ctx context.Context, stateDir string, log *slog.Logger) (string, error) {
	if t.netplayListen == "" {
		if len(t.netplayPeers) > 0 {
			return "", fmt.Errorf("%w: --netplay-peers needs --netplay-listen", netplay.ErrConfig)
		}
		return "", nil
	}
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return "", fmt.Errorf("netplay: %w", err)
	}
	sock := filepath.Join(stateDir, "net-sw.sock")
	node, err := netplay.New(netplay.Config{Socket: sock, VMSocket: qemu.Config{StateDir: stateDir}.NetVMSocket(),
		Listen: t.netplayListen, Peers: t.netplayPeers, Logger: log.With("part", "netplay")})
	if err != nil {
		return "", err
	}
	go func() { _ = node.Run(ctx) }()
	go logNetplay(ctx, node, log)
	log.Info("network play", "listen", node.Addr().String(), "peers", t.netplayPeers.String())
	return sock, nil
}

// logNetplay logs the switch's counters once a minute while they change.
func logNetplay(ctx context.Context, node *netplay.Node, log *slog.Logger) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	var last netplay.Stats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if st := node.Stats(); st != last {
			log.Info("network play", "from_guest", st.FromGuest, "to_guest", st.ToGuest, "from_peers", st.FromPeers,
				"to_peers", st.ToPeers, "junk", st.Junk, "filtered", st.Filtered, "queue_full", st.QueueFull,
				"send_errors", st.SendErrors, "peers", st.Peers, "macs", st.MACs)
			last = st
		}
	}
}
