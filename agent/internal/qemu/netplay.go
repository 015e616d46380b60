package qemu

import (
	"crypto/sha256"
	"fmt"
	"net"
	"path/filepath"
)

// Network play: with Config.NetSocket the guest's NIC is plugged into the agent's switch (package netplay)
// instead of QEMU's user-mode network:
//
//	-netdev dgram,id=net0,local.type=unix,local.path=<StateDir>/net-vm.sock,remote.type=unix,remote.path=<NetSocket>
//	-device pcnet|ne2k_pci,netdev=net0,mac=<MAC>
//
// QEMU 7.2's dgram backend sends every frame the NIC transmits as one datagram to the switch's socket and hands
// every datagram arriving on its own socket to the NIC: no framing, no connection, so QEMU and the switch start
// and restart independently (frames sent while the other side is away are lost, as on a cable being replugged).
// The demo profile gets the same AMD PCnet NIC as the win98 default (Linux: pcnet32), only when NetSocket is set.
//
// Every NIC on a segment needs its own MAC, and QEMU gives every NIC 52:54:00:12:34:56 unless told otherwise: the
// MAC is derived from the instance name (52:54:00 and three bytes of its SHA-256), so it is stable across restarts
// (Windows keeps its network settings) and distinct between instances.

// NetVMSocket is QEMU's own datagram socket for network play.
func (c Config) NetVMSocket() string { return filepath.Join(c.StateDir, "net-vm.sock") }

// netDefaults checks the network play settings.
func (c *Config) netDefaults() error {
	if c.NetSocket == "" {
		return nil
	}
	if len(c.NetVMSocket()) > 107 || len(c.NetSocket) > 107 {
		return fmt.Errorf("%w: netplay socket paths too long for unix sockets", ErrConfig)
	}
	if c.MAC == "" {
		sum := sha256.Sum256([]byte(c.Name))
		c.MAC = fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[0], sum[1], sum[2])
	}
	hw, err := net.ParseMAC(c.MAC)
	if err != nil || len(hw) != 6 || hw[0]&1 != 0 {
		return fmt.Errorf("%w: mac %q is not a unicast Ethernet address", ErrConfig, c.MAC)
	}
	c.MAC = hw.String()
	return nil
}

// nicArgs returns the NIC of the given model ("none": no NIC) and its backend: the agent's switch with
// NetSocket, else (win98 only) QEMU's user-mode network with no route out.
func (c *Config) nicArgs(model string) []string {
	switch {
	case model == "none":
		return nil
	case c.NetSocket != "":
		return []string{
			"-netdev", "dgram,id=net0,local.type=unix,local.path=" + opt(c.NetVMSocket()) +
				",remote.type=unix,remote.path=" + opt(c.NetSocket),
			"-device", model + ",netdev=net0,mac=" + c.MAC,
		}
	case c.Profile == ProfileWin98:
		return []string{"-netdev", "user,id=net0,restrict=on", "-device", model + ",netdev=net0"}
	}
	return nil
}
