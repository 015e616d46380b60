// Package tightproxy is a VNC server that re-encodes another VNC server's picture with the Tight encoding (solid
// fills, JPEG at the client's quality level, zlib otherwise). The synthetic VNC server speaks Raw only, while the
// noVNC baseline of the benchmarks must get what a real VNC server gives it at its best settings (QEMU, TigerVNC
// and x11vnc all serve Tight with JPEG); this proxy supplies that encoding in front of it.
//
// Each client gets its own upstream connection (Raw, 32 bpp) with one incremental update request always in flight,
// and a framebuffer; rectangles that changed upstream are sent to the client, Tight-encoded, as soon as it has a
// request pending. Only what the benchmark needs is served: 32-bit true-colour clients, Tight (or Raw when the
// client does not ask for Tight), no input forwarding.
package tightproxy
