// Package rfb is the agent's VNC (RFB 3.8) client: it keeps an instance's [capture.Framebuffer] in step with a VNC
// server (QEMU's, or the synthetic one in package vncsynth) and injects input into it.
//
// # Use
//
//	fb := &capture.Framebuffer{}
//	c := rfb.New(rfb.Config{Addr: "unix:/run/loco/vnc.sock", Framebuffer: fb, Logger: log})
//	go c.Run(ctx) // connects, reconnects with exponential back-off, returns ctx.Err() when ctx is done
//
//	c.Connected(), c.Mode(), c.UpdatesPerSecond(), c.Relative(), c.ExtendedKeys(), c.Stats()
//	c.PointerAbs(buttons, x, y); c.PointerRel(buttons, dx, dy); c.Key(down, keysym, scancode)
//
// Addr is "unix:/path/to/socket" or "host:port". The framebuffer is resized to the server's mode on every
// (re)connection and on every DesktopSize change; frames are taken from it by a [capture.Pacer]. [Client.Subscribe]
// signals changes of connection, mode and pointer/key capabilities (for the DataChannel status message).
//
// # Protocol
//
// github.com/mitchellh/go-vnc performs the handshake (no authentication) and runs the message loop over a buffered
// connection (reads through a 1 MiB bufio.Reader, writes serialized by a mutex, so messages of our own such as QEMU's
// type 255 share the connection safely: see [Client.WriteMessage]). The client then asks for
//
//   - pixel format: 32 bits per pixel, depth 24, little-endian, true colour, maxima 255, shifts red 16 green 8 blue 0,
//     so pixels arrive as BGRX bytes, exactly the framebuffer's layout; nothing is converted per pixel;
//   - encodings: Raw (0), DesktopSize (-223), QEMU PointerTypeChange (-257), QEMU ExtendedKeyEvent (-258).
//
// This package supplies go-vnc's server message type 0 (FramebufferUpdate) itself: Raw rectangles are read row by row
// (one read for full-width rectangles) straight into the framebuffer under its write lock, held for one update
// message (with a read deadline so a stalled server cannot hold it), with no allocation in steady state.
// DesktopSize resizes the framebuffer; PointerTypeChange records whether the guest pointer is absolute or relative;
// ExtendedKeyEvent records the acknowledgement. SetColourMapEntries, Bell and ServerCutText are read and ignored.
//
// Exactly one incremental FramebufferUpdateRequest is in flight: the next is sent when an update that answers it
// (one with pixel data, or an empty one) has been read completely. Updates that carry only pseudo-encodings are the
// unsolicited notices QEMU sends (acknowledgements, mode changes) and do not answer a request. After a mode change
// the next request is non-incremental unless the answer already covered the whole new screen.
//
// go-vnc allocates whatever length a server announces for its desktop name or a failure reason; the connection
// wrapper checks those lengths as they arrive and refuses more than 64 KiB ([ErrMalformed] within [ErrHandshake]).
//
// A message of an unknown type, a rectangle of an unknown encoding or one outside the framebuffer, or a truncated
// message ends the connection with a specific error ([ErrUnknownMessage], [ErrUnknownEncoding], [ErrMalformed],
// [ErrConnectionLost]), logged by [Client.Run] before it reconnects, and kept in [Stats].LastError. Nothing a server
// sends can panic the client.
//
// # Pointer and keys (QEMU)
//
// When the server announced PointerTypeChange with relative mode ([Client.Relative] is true, the case of a PS/2
// mouse guest such as Windows 98), QEMU reads the x, y of every PointerEvent as 0x7FFF+dx, 0x7FFF+dy (ui/vnc.c,
// pointer_event; TestQEMU checks the deltas in QEMU 7.2's input trace); [Client.PointerRel] encodes that. In absolute mode, or for servers without -257, only
// [Client.PointerAbs] makes sense (package input converts relative motion to absolute then).
//
// QEMU's PS/2 mouse queues at most four packets and keeps the motion that did not fit until the next input event
// (hw/input/ps2.c, ps2_mouse_sync): a burst of motion faster than the guest reads it would leave the guest's cursor
// short of the user's until the mouse moved again (TestDemoGuest reproduces it: 240 px short after a 10-event
// burst). So [Client.PointerRel] follows motion with zero-motion events over the next 0.8 s, which make QEMU hand
// over what it holds.
//
// When the server acknowledged ExtendedKeyEvent ([Client.ExtendedKeys]), [Client.Key] sends QEMU message 255/0
// (down flag u16, keysym u32, key code u32) with the XT scan code, where a 0xE0-prefixed key is 0x80|code (Right
// Ctrl E0 1D is 0x9D); otherwise it sends a plain RFB KeyEvent with the keysym.
package rfb
