// Package input turns the browser's DataChannel input messages into VNC input for one instance.
//
// The wire format is proto/loco/v1/input.md (version 1): binary messages, one event each, big-endian. [Decode]
// parses one message into an [Event]; [Encode] produces the exact bytes (for tests and Go peers).
//
// # Use (one Handler per instance)
//
//	h := input.NewHandler(rfbClient, fb, input.Config{})
//	// on every binary DataChannel message of a viewer session:
//	err := h.Handle(msg, allowed) // allowed: this session holds control
//	// when control changes hands or the controller leaves:
//	h.ReleaseAll()
//	h.Stats() // counters for loco_agent_input_rejected_total{reason=...} and injected events
//
// Handle never panics and never closes anything: a message from a session that does not hold control is dropped
// and counted as "spectator" ([ErrSpectator]); a message of the wrong length, an unknown type or an over-long code
// as "malformed" ([ErrMalformed]); an unknown KeyboardEvent.code as "unknown_key" ([ErrUnknownKey]). Injection
// errors (VNC not connected) are returned wrapped and counted separately.
//
// # What is sent to VNC
//
//   - pointer-abs: coordinates clamped to the framebuffer. If the server takes relative motion (QEMU -257 relative
//     mode, [Injector.Relative]), the move is sent as the relative delta from the last known position.
//   - pointer-rel: native relative motion when [Injector.Relative]; otherwise converted to absolute from the last
//     known position (clamped to the framebuffer).
//   - wheel: one press and release of RFB button 4 (up, mask 0x08) or 5 (down, 0x10) per notch; horizontal notches
//     as buttons 6 (left, 0x20) and 7 (right, 0x40), which QEMU 7.2 ignores. At most 16 notches per message.
//   - key-down / key-up: [Lookup] maps KeyboardEvent.code to an XT scan code (set 1, QEMU's encoding: 0xE0-prefixed
//     keys as 0x80|code, Pause as 0xC6) and an X keysym; the injector sends the scan code as a QEMU extended key
//     event when the server acknowledged -258, else the keysym.
//   - release-all: every key this handler pressed is released and the button mask goes to 0.
package input
