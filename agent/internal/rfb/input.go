package rfb

import "time"

// PointerAbs sends an RFB PointerEvent with button mask buttons (bit 0 left, 1 middle, 2 right, 3 wheel up,
// 4 wheel down) at (x, y), clamped to 0..65535. Clamping to the screen is the caller's business. In QEMU's relative
// mode ([Client.Relative]) the server reads x, y as offsets from 0x7FFF: use [Client.PointerRel] there.
func (c *Client) PointerAbs(buttons uint8, x, y int) error {
	s := c.cur.Load()
	if s == nil {
		return ErrNotConnected
	}
	return s.conn.writePointer(buttons, uint16(clamp(x, 0, 0xFFFF)), uint16(clamp(y, 0, 0xFFFF)))
}

// PointerRel sends relative motion (dx, dy) with button mask buttons as QEMU expects it in relative mode: a
// PointerEvent at (0x7FFF+dx, 0x7FFF+dy). Deltas are clamped to -0x7FFF..0x8000. It returns [ErrNoRelative] unless
// [Client.Relative] is true.
//
// After motion it also sends a few zero-motion events with the same buttons over the next second ([relFlushAfter]):
// QEMU's PS/2 mouse queues at most 16 bytes (four 4-byte packets of at most ±127 px each) and keeps any motion that
// did not fit until the next input event arrives. A guest slow to drain the queue (TCG on a busy host) would
// otherwise leave the cursor short of where the user put it until the mouse moved again. A zero-motion event only
// makes QEMU send what it holds; the guest sees at most a few empty packets.
func (c *Client) PointerRel(buttons uint8, dx, dy int) error {
	c.relMu.Lock()
	defer c.relMu.Unlock()
	if err := c.writeRel(buttons, dx, dy); err != nil {
		return err
	}
	c.relButtons = buttons
	if dx != 0 || dy != 0 {
		c.relFlushStep = 0
		if c.relFlush == nil {
			c.relFlush = time.AfterFunc(relFlushAfter[0], c.flushRel)
		} else {
			c.relFlush.Reset(relFlushAfter[0])
		}
	}
	return nil
}

// relFlushAfter are the delays after the last motion at which [Client.PointerRel] sends a zero-motion event.
var relFlushAfter = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}

// flushRel sends one zero-motion event with the buttons last sent and schedules the next one.
func (c *Client) flushRel() {
	c.relMu.Lock()
	defer c.relMu.Unlock()
	if c.relFlushStep >= len(relFlushAfter) {
		return // every flush sent
	}
	if err := c.writeRel(c.relButtons, 0, 0); err != nil {
		return // disconnected or no longer relative: nothing is held for this connection
	}
	c.relFlushes.Add(1)
	c.relFlushStep++
	if c.relFlushStep < len(relFlushAfter) {
		c.relFlush.Reset(relFlushAfter[c.relFlushStep] - relFlushAfter[c.relFlushStep-1])
	}
}

func (c *Client) writeRel(buttons uint8, dx, dy int) error {
	s := c.cur.Load()
	if s == nil {
		return ErrNotConnected
	}
	if !c.relative.Load() {
		return ErrNoRelative
	}
	x := RelativeOrigin + clamp(dx, -RelativeOrigin, 0xFFFF-RelativeOrigin)
	y := RelativeOrigin + clamp(dy, -RelativeOrigin, 0xFFFF-RelativeOrigin)
	return s.conn.writePointer(buttons, uint16(x), uint16(y))
}

// Key presses (down) or releases a key: as a QEMU extended key event with the XT scan code when the server
// acknowledged -258 and scancode is not 0 (0xE0-prefixed keys as 0x80|code), else as an RFB KeyEvent with the
// keysym. It returns [ErrNoKey] when neither applies.
func (c *Client) Key(down bool, keysym, scancode uint32) error {
	s := c.cur.Load()
	if s == nil {
		return ErrNotConnected
	}
	switch {
	case scancode != 0 && c.extKeys.Load():
		return s.conn.writeExtKey(down, keysym, scancode)
	case keysym != 0:
		return s.conn.writeKey(down, keysym)
	default:
		return ErrNoKey
	}
}

// KeyEvent sends a plain RFB KeyEvent (message 4) with an X keysym.
func (c *Client) KeyEvent(down bool, keysym uint32) error {
	s := c.cur.Load()
	if s == nil {
		return ErrNotConnected
	}
	return s.conn.writeKey(down, keysym)
}

// ExtendedKeyEvent sends QEMU message 255, submessage 0: down flag, keysym and XT key code (0x80|code for
// 0xE0-prefixed keys), whether or not the server acknowledged -258.
func (c *Client) ExtendedKeyEvent(down bool, keysym, keycode uint32) error {
	s := c.cur.Load()
	if s == nil {
		return ErrNotConnected
	}
	return s.conn.writeExtKey(down, keysym, keycode)
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
