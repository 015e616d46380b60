package rfb

import (
	"encoding/binary"
	"fmt"
	"image"
	"io"

	"github.com/loco-cluster/loco/agent/internal/capture"
)

// pointerType is what a PointerTypeChange rectangle said.
type pointerType uint8

const (
	pointerUnknown  pointerType = iota // no PointerTypeChange in this update
	pointerAbsolute                    // x = 1: the guest has an absolute device (tablet)
	pointerRelative                    // x = 0: relative mouse, QEMU reads x,y as 0x7FFF+delta
)

// updateInfo summarizes one FramebufferUpdate message.
type updateInfo struct {
	rects      int // rectangles in the message
	pixelRects int // rectangles with pixel data
	bytes      int // pixel bytes read
	resized    bool
	width      int // framebuffer size after the message
	height     int
	pointer    pointerType
	extKeyAck  bool
	covered    bool // the pixel rectangles covered the whole framebuffer
}

// answers reports whether the message answers a FramebufferUpdateRequest: it carries pixels, or nothing at all.
// Messages with only pseudo-encodings are QEMU's unsolicited notices.
func (u *updateInfo) answers() bool { return u.pixelRects > 0 || u.rects == 0 }

// decoder reads FramebufferUpdate messages (after their type byte) straight into a framebuffer.
type decoder struct {
	r   io.Reader
	fb  *capture.Framebuffer
	hdr [12]byte
}

// readUpdate reads one FramebufferUpdate message body into the framebuffer. It holds the framebuffer's write lock
// from the first rectangle to the last, so consumers never see half an update.
func (d *decoder) readUpdate(info *updateInfo) error {
	*info = updateInfo{}
	if _, err := io.ReadFull(d.r, d.hdr[:3]); err != nil {
		return fmt.Errorf("%w: reading FramebufferUpdate header: %w", ErrConnectionLost, err)
	}
	info.rects = int(binary.BigEndian.Uint16(d.hdr[1:3]))
	info.width, info.height = d.fb.Size()
	if info.rects == 0 {
		return nil
	}
	w := d.fb.BeginWrite()
	defer w.End()
	var covered image.Rectangle
	for i := range info.rects {
		if _, err := io.ReadFull(d.r, d.hdr[:12]); err != nil {
			return fmt.Errorf("%w: reading rectangle %d of %d: %w", ErrConnectionLost, i+1, info.rects, err)
		}
		x := int(binary.BigEndian.Uint16(d.hdr[0:]))
		y := int(binary.BigEndian.Uint16(d.hdr[2:]))
		rw := int(binary.BigEndian.Uint16(d.hdr[4:]))
		rh := int(binary.BigEndian.Uint16(d.hdr[6:]))
		enc := int32(binary.BigEndian.Uint32(d.hdr[8:]))
		switch enc {
		case EncodingRaw:
			if x+rw > w.Width() || y+rh > w.Height() {
				return fmt.Errorf("%w: Raw rectangle %d of %d (%dx%d at %d,%d) outside the %dx%d framebuffer",
					ErrMalformed, i+1, info.rects, rw, rh, x, y, w.Width(), w.Height())
			}
			if err := d.readRaw(w, x, y, rw, rh); err != nil {
				return fmt.Errorf("%w: reading Raw rectangle %d of %d (%dx%d at %d,%d): %w",
					ErrConnectionLost, i+1, info.rects, rw, rh, x, y, err)
			}
			r := image.Rect(x, y, x+rw, y+rh)
			w.Damage(r)
			covered = covered.Union(r)
			info.pixelRects++
			info.bytes += rw * rh * capture.BytesPerPixel
		case EncodingDesktopSize:
			if err := w.Resize(rw, rh); err != nil {
				return fmt.Errorf("%w: DesktopSize: %w", ErrMalformed, err)
			}
			info.resized = true
			covered = image.Rectangle{}
		case EncodingPointerTypeChange:
			info.pointer = pointerRelative
			if x != 0 {
				info.pointer = pointerAbsolute
			}
		case EncodingExtendedKeyEvent:
			info.extKeyAck = true
		default:
			return fmt.Errorf("%w: %d in rectangle %d of %d (%dx%d at %d,%d)",
				ErrUnknownEncoding, enc, i+1, info.rects, rw, rh, x, y)
		}
	}
	info.width, info.height = w.Width(), w.Height()
	info.covered = covered == image.Rect(0, 0, info.width, info.height)
	return nil
}

// readRaw reads a Raw rectangle (32-bit BGRX pixels) into the framebuffer: one read for full-width rectangles,
// else one read per row.
func (d *decoder) readRaw(w *capture.Writer, x, y, rw, rh int) error {
	if rw == 0 || rh == 0 {
		return nil
	}
	pix, stride := w.Pix(), w.Stride()
	row := rw * capture.BytesPerPixel
	off := y*stride + x*capture.BytesPerPixel
	if row == stride {
		_, err := io.ReadFull(d.r, pix[off:off+rh*stride])
		return err
	}
	for range rh {
		if _, err := io.ReadFull(d.r, pix[off:off+row]); err != nil {
			return err
		}
		off += stride
	}
	return nil
}
