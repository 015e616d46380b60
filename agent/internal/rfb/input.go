package rfb

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
func (c *Client) PointerRel(buttons uint8, dx, dy int) error {
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
