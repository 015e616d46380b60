// Package capture holds one instance's framebuffer and paces frames out of it.
//
// # Framebuffer
//
// A [Framebuffer] is the single picture of one VNC server: Width x Height pixels, Stride bytes per row, 4 bytes per
// pixel in BGRX order (byte 0 blue, 1 green, 2 red, 3 unused), which is what GStreamer calls "BGRx" and what the RFB
// client asks the server for (32-bit true colour, little-endian, red shift 16, green 8, blue 0), so no pixel is ever
// converted.
//
// The writer (the RFB client) changes it with [Framebuffer.Update] (pixels) and [Framebuffer.Resize] (mode change);
// every call that changes something increments a sequence number ([Framebuffer.Seq]) and adds to the damage, the
// union of changed rectangles since a consumer last took a frame.
//
// Consumers read it without copying through [Framebuffer.Take] (the pacer: returns the damage and resets it) and
// [Framebuffer.Peek] (anyone else: leaves the damage alone). Both run a callback under the read lock; the [Frame]
// they receive, and its Pix in particular, is valid only during the callback. A consumer that needs the pixels
// later copies them once, into its own reusable buffer ([Frame.CopyTo]) or straight into an encoder's buffer.
//
// Take also hands out the set of rows that changed since the previous Take ([Frame.Rows]: two small changes far
// apart make a damage union as tall as the picture, not many rows) and that Take's sequence number
// ([Frame.PrevSeq]), so a consumer that keeps its own converted copy of the picture converts only those rows when it
// saw the previous frame, and everything when it did not.
//
// [Framebuffer.Subscribe] signals changes to a channel (a [Notifier]: non-blocking, coalescing), which is how the
// pacer wakes up; [Framebuffer.Size], [Framebuffer.Seq] and [Framebuffer.ChangedAt] need no lock.
//
// # Pacer
//
// A [Pacer] hands frames to a [Sink]: only when the framebuffer changed, at most FPS times a second (default 30), plus
// a keep-alive (the unchanged picture, marked KeepAlive) when nothing changed for a second, so a still screen costs
// one frame a second. It holds no queue: at most one frame is "pending", and a newer change replaces it.
//
// # Monitor
//
// A [Monitor] samples the framebuffer cheaply (a grid of a few hundred pixels) and reports black-screen and
// frozen-screen verdicts and the time since the picture last changed ([Status]).
package capture
