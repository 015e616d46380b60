// Package netplay gives every instance's guest NIC one shared virtual Ethernet segment, so LEGO Loco towns can
// play together over the network as they would on a LAN.
//
// # Shape
//
// Each agent runs a small learning switch ([Node]). Its one local port is QEMU's NIC backend: QEMU 7.2's
// `-netdev dgram` over a pair of unix datagram sockets (one Ethernet frame per datagram, no framing, no
// connection, so either side may restart without the other noticing anything but lost frames). Its other ports are
// the peer agents, reached over UDP: every frame travels as one datagram with a 12-byte header (magic "LNP",
// version 1, the sending node's random 64-bit id). The agents form a full mesh, hub and spoke: a frame from the
// local guest goes to the peer that owns its destination MAC or, for broadcast, multicast and unknown unicast, to
// every peer; a frame from a peer goes only to the local guest, never to another peer. So no frame ever crosses
// more than one UDP hop and there is no loop to amplify, whatever the peers' configurations.
//
// # Learning and dropping
//
// Source MACs are learned per port (up to MaxMACs, forgotten after MACAge); a MAC that shows up on another port
// moves. Junk is dropped and counted: frames shorter than an Ethernet header or longer than 1518 bytes, frames
// from a multicast or all-zero source, datagrams from peers without the header, with another version, from
// addresses that are not peers, or sent by this node itself (a peer list that names this node: the address is
// then never sent to again). Every port has a bounded queue (QueueLen frames); a full queue drops the new frame.
//
// # Peers
//
// Peers come from a list of host:port: each host is resolved again every ResolveEvery, and at once (at most every
// second) when a datagram arrives from an address that is not a peer yet. A name that resolves to many addresses
// (a Kubernetes headless Service: one A record per ready pod) gives one peer per address, so every emulator pod
// finds all the others through `--netplay-peers loco-emulator:7400`.
//
// # Addresses in the guests
//
// The segment is plain Ethernet: no DHCP server, no router. Windows 98 guests configured for DHCP fall back to
// automatic private addresses (169.254.0.0/16, APIPA) and find each other on the segment; static addresses in one
// subnet work as well. Every guest NIC needs its own MAC, which the agent derives from the instance name (see
// agent/internal/qemu/netplay.go).
package netplay
