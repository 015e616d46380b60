// Package vncsynth is a synthetic VNC server: a fake beside QEMU's real one, for the agent's tests, the web
// end-to-end tests and the benchmarks. cmd/loco-vncsynth runs it as a program.
//
// # Protocol
//
// RFB 3.8 (3.7 and 3.3 accepted), no authentication. It serves Raw rectangles in whatever true-colour pixel format
// the client sets (8, 16 or 32 bits; the 32-bit BGRX format of package rfb is a plain copy), DesktopSize (-223)
// so tests can change the mode (640x480, 800x600, 1024x768, ...), and QEMU's PointerTypeChange (-257: announced
// with relative mode by default, as QEMU does for a PS/2 mouse) and ExtendedKeyEvent (-258: acknowledged; message
// 255/0 accepted). An incremental update request is answered at once when something changed since the last
// update, otherwise as soon as the next frame is painted: there is no refresh cap besides the frame rate.
//
// Every input message is recorded as an [Event] (pointer absolute or relative — with -257 relative mode x, y are
// read as 0x7FFF+delta as QEMU does —, buttons, keys with keysym, extended keys with scan code), readable through
// [Server.Events] and, in the program, as JSON lines on stdout and GET /events.
//
// # Scenes
//
//   - "town": a still, colourful LEGO-Loco-like town (grass, roads, a river, houses) with a few small trains moving
//     along the roads: the common case, where a few small rectangles change per frame.
//   - "motion": every pixel changes every frame (but the instance band, frame and pointer marker).
//   - "still": the town without trains; a frame is painted only when the pointer marker moves or the mode changes.
//
// All scenes draw a small pointer marker (a white cross with a black outline) where the pointer is, an instance
// band in the label's colour along the top and a 4-pixel frame around the screen, and the label text in the band.
// With BPP 16, every colour is quantised to RGB565 (and expanded back by bit replication, as QEMU does) so that the
// picture matches what a 16-bit guest shows.
//
// # Frame stamp
//
// Every painted frame carries its frame number (the low 16 bits) in the top-left corner, in 16x16-pixel blocks
// aligned to the 16-pixel grid (one video macroblock each), so it survives lossy video compression:
//
//	x:   0..15   16..31  32..47  48..63  ...  272..287      y: 0..15
//	     white   black   bit 15  bit 14  ...  bit 0
//
// A bit block is white (255,255,255) for 1 and black (0,0,0) for 0. To decode ([DecodeStamp]): for each block take
// the mean of R, G and B over its inner 8x8 pixels (x+4..x+11, y 4..11); the stamp is valid when the white
// reference is at least 64 brighter than the black one; a bit is 1 when its mean is above the midpoint of the two
// references. The channel order does not matter (the mean is symmetric), so the same steps work on a canvas's RGBA
// ImageData in JavaScript:
//
//	const px = (x, y) => { const i = (y * width + x) * 4; return (d[i] + d[i + 1] + d[i + 2]) / 3; };
//	const mean = (b) => { let s = 0; for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) s += px(b * 16 + x, y); return s / 64; };
//	const w = mean(0), k = mean(1); if (w - k < 64) return null;
//	let n = 0; for (let i = 0; i < 16; i++) n = (n << 1) | (mean(2 + i) > (w + k) / 2 ? 1 : 0); return n;
//
// The server records when it painted each frame ([Server.PaintTime], GET /paints, and a JSON lines file in the
// program): {"frame":123,"stamp":123,"unix_nano":...}. A receiver that reads the stamp of a presented frame and
// looks up its paint time gets glass-to-glass latency on one clock.
package vncsynth
