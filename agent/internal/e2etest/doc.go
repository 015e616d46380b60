// Package e2etest holds the agent's integration tests: the whole media path (VNC server -> rfb -> pacer -> GStreamer
// -> Pion -> a Go WebRTC viewer that decodes with GStreamer, and input back into VNC), against the synthetic VNC
// server and against real QEMU.
package e2etest
