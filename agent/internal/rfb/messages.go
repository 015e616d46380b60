package rfb

import (
	"encoding/binary"
	"fmt"
	"io"

	vnc "github.com/mitchellh/go-vnc"
)

// The go-vnc ServerMessage implementations. Each returns itself as the parsed message (go-vnc discards it: no
// ServerMessageCh is configured), so reading allocates nothing.

// updateMessage is FramebufferUpdate (type 0), decoded into the framebuffer.
type updateMessage struct{ s *session }

func (m *updateMessage) Type() uint8 { return msgFramebufferUpdate }

func (m *updateMessage) Read(*vnc.ClientConn, io.Reader) (vnc.ServerMessage, error) {
	if err := m.s.onUpdate(); err != nil {
		return nil, m.s.fail(err)
	}
	return m, nil
}

// colourMapMessage is SetColourMapEntries (type 1): read and ignored (the client asked for true colour). go-vnc's
// own reader indexes a 256-entry array with server-chosen numbers and could panic.
type colourMapMessage struct{ s *session }

func (m *colourMapMessage) Type() uint8 { return msgSetColourMapEntries }

func (m *colourMapMessage) Read(_ *vnc.ClientConn, r io.Reader) (vnc.ServerMessage, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, m.s.fail(fmt.Errorf("%w: reading SetColourMapEntries: %w", ErrConnectionLost, err))
	}
	n := int64(binary.BigEndian.Uint16(hdr[3:])) * 6
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		return nil, m.s.fail(fmt.Errorf("%w: reading SetColourMapEntries: %w", ErrConnectionLost, err))
	}
	return m, nil
}

// bellMessage is Bell (type 2).
type bellMessage struct{}

func (m *bellMessage) Type() uint8 { return msgBell }

func (m *bellMessage) Read(*vnc.ClientConn, io.Reader) (vnc.ServerMessage, error) { return m, nil }

// cutTextMessage is ServerCutText (type 3): read and ignored, bounded in size (go-vnc's allocates whatever length
// the server announces).
type cutTextMessage struct{ s *session }

func (m *cutTextMessage) Type() uint8 { return msgServerCutText }

func (m *cutTextMessage) Read(_ *vnc.ClientConn, r io.Reader) (vnc.ServerMessage, error) {
	var hdr [7]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, m.s.fail(fmt.Errorf("%w: reading ServerCutText: %w", ErrConnectionLost, err))
	}
	n := binary.BigEndian.Uint32(hdr[3:])
	if n > maxCutText {
		return nil, m.s.fail(fmt.Errorf("%w: ServerCutText of %d bytes (max %d)", ErrMalformed, n, maxCutText))
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return nil, m.s.fail(fmt.Errorf("%w: reading ServerCutText: %w", ErrConnectionLost, err))
	}
	return m, nil
}

// unknownMessage stands for every other type: it ends the connection with a specific error (go-vnc's loop would
// close it silently).
type unknownMessage struct {
	s *session
	t uint8
}

func (m *unknownMessage) Type() uint8 { return m.t }

func (m *unknownMessage) Read(*vnc.ClientConn, io.Reader) (vnc.ServerMessage, error) {
	return nil, m.s.fail(fmt.Errorf("%w: %d", ErrUnknownMessage, m.t))
}
