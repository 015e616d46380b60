package capture

import (
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"
)

// BytesPerPixel is the size of one BGRX pixel in [Framebuffer.Pix].
const BytesPerPixel = 4

// MaxWidth and MaxHeight bound a framebuffer (64 MiB of pixels), whatever a VNC server announces.
const (
	MaxWidth  = 4096
	MaxHeight = 4096
)

// Frame is a read-only view of the framebuffer handed to a consumer. Pix and every field are valid only during the
// callback (or [Sink] call) that received it: the framebuffer is read-locked meanwhile and changes afterwards.
type Frame struct {
	Width, Height int
	// Stride is the distance in bytes between two rows (Width*4 today; do not assume it).
	Stride int
	// Pix holds Height rows of Width BGRX pixels, row y at Pix[y*Stride:].
	Pix []byte
	// Seq is the framebuffer's sequence number when the frame was taken (see [Framebuffer.Seq]).
	Seq uint64
	// Damage is the union of the rectangles changed since the previous [Framebuffer.Take] (empty for a
	// keep-alive). Consumers that encode whole pictures can ignore it.
	Damage image.Rectangle
	// Rows is the set of rows changed since the previous [Framebuffer.Take] (a union of rectangles can span the
	// whole picture when two small changes are far apart; the rows do not). Set by Take only (nil from Peek).
	Rows *RowSet
	// PrevSeq is the sequence number of the frame the previous Take returned: Damage and Rows cover the changes
	// from that frame to this one. A consumer that did not see that frame (it skipped one) must not rely on them.
	PrevSeq uint64
	// Changed is when the picture last changed.
	Changed time.Time
	// KeepAlive is set by the [Pacer] on a frame sent only because nothing changed for a while.
	KeepAlive bool
}

// CopyTo copies the pixels into dst (grown when too small) as tightly packed rows (stride Width*4) and returns it.
// Reusing dst from frame to frame makes the copy allocation-free.
func (f *Frame) CopyTo(dst []byte) []byte {
	row := f.Width * BytesPerPixel
	n := row * f.Height
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if f.Stride == row {
		copy(dst, f.Pix[:n])
		return dst
	}
	for y := 0; y < f.Height; y++ {
		copy(dst[y*row:(y+1)*row], f.Pix[y*f.Stride:])
	}
	return dst
}

// Framebuffer is the one picture of an instance. It is safe for one writer and many readers at once.
// The zero value is an empty 0x0 framebuffer ready to use.
type Framebuffer struct {
	mu     sync.RWMutex
	width  int
	height int
	stride int
	pix    []byte
	dmu    sync.Mutex      // guards damage (changed by the writer under mu, reset by Take under a read lock)
	damage image.Rectangle // changed area since the last Take
	w      Writer          // the single writer handle, reused under mu

	// rows are the rows changed since the last Take, changed by the writer (holding mu) and swapped with taken by
	// Take (holding mu for reading and tmu, which keeps Takes one at a time).
	tmu      sync.Mutex
	rows     RowSet
	taken    RowSet        // the set the last Take handed out
	takenSeq atomic.Uint64 // Seq of the last Take

	seq       atomic.Uint64
	changedNs atomic.Int64
	size      atomic.Uint64 // width<<32 | height, readable without the lock

	changes Notifier
}

// NewFramebuffer returns a black framebuffer of the given size.
func NewFramebuffer(width, height int) (*Framebuffer, error) {
	f := &Framebuffer{}
	w := f.BeginWrite()
	err := w.Resize(width, height)
	w.End()
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Seq returns the sequence number, which increments whenever the picture or its size changes. It needs no lock.
func (f *Framebuffer) Seq() uint64 { return f.seq.Load() }

// Size returns the current width and height without taking the lock.
func (f *Framebuffer) Size() (width, height int) {
	s := f.size.Load()
	return int(s >> 32), int(s & 0xffffffff)
}

// ChangedAt returns when the picture last changed (zero before the first change).
func (f *Framebuffer) ChangedAt() time.Time {
	ns := f.changedNs.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Subscribe registers ch to receive a non-blocking signal after every change; give it a capacity of 1. Signals
// coalesce: one pending signal stands for any number of changes. Unsubscribe with the returned function.
func (f *Framebuffer) Subscribe(ch chan<- struct{}) (unsubscribe func()) {
	return f.changes.Subscribe(ch)
}

// Take calls fn with the current frame under the read lock, passing the damage accumulated since the previous Take,
// and resets the damage. Meant for the one consumer that encodes frames (the [Pacer]); others use [Framebuffer.Peek].
// frame is filled in and passed back to fn so that a caller can reuse one Frame value without allocating.
func (f *Framebuffer) Take(frame *Frame, fn func(*Frame)) {
	f.tmu.Lock()
	defer f.tmu.Unlock()
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.fill(frame)
	f.dmu.Lock() // readers share mu: the damage has its own lock
	frame.Damage = f.damage
	f.damage = image.Rectangle{}
	f.dmu.Unlock()
	f.rows, f.taken = f.taken, f.rows
	f.rows.Reset(f.height)
	frame.Rows = &f.taken
	frame.PrevSeq = f.takenSeq.Swap(frame.Seq)
	fn(frame)
}

// Peek calls fn with the current frame under the read lock without touching the damage (Frame.Damage is the damage
// not yet taken).
func (f *Framebuffer) Peek(frame *Frame, fn func(*Frame)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.fill(frame)
	f.dmu.Lock()
	frame.Damage = f.damage
	f.dmu.Unlock()
	frame.PrevSeq = f.takenSeq.Load()
	fn(frame)
}

func (f *Framebuffer) fill(fr *Frame) {
	fr.Width, fr.Height, fr.Stride = f.width, f.height, f.stride
	fr.Pix = f.pix[:f.stride*f.height]
	fr.Seq = f.seq.Load()
	fr.Changed = f.ChangedAt()
	fr.KeepAlive = false
	fr.Rows = nil
}

// BeginWrite locks the framebuffer for writing and returns its writer; call [Writer.End] to unlock. Readers wait
// meanwhile, so keep the section short (the RFB client holds it while it decodes one update message).
func (f *Framebuffer) BeginWrite() *Writer {
	f.mu.Lock()
	f.w = Writer{f: f}
	return &f.w
}

// Writer changes a locked framebuffer; obtained from [Framebuffer.BeginWrite].
type Writer struct {
	f       *Framebuffer
	damaged image.Rectangle
	changed bool
}

// Width returns the framebuffer width.
func (w *Writer) Width() int { return w.f.width }

// Height returns the framebuffer height.
func (w *Writer) Height() int { return w.f.height }

// Stride returns the distance in bytes between rows.
func (w *Writer) Stride() int { return w.f.stride }

// Pix returns the pixel memory (BGRX rows, see [Writer.Stride]); write into it, then report the area with
// [Writer.Damage].
func (w *Writer) Pix() []byte { return w.f.pix[:w.f.stride*w.f.height] }

// Damage records that r changed (clipped to the framebuffer).
func (w *Writer) Damage(r image.Rectangle) {
	r = r.Intersect(image.Rect(0, 0, w.f.width, w.f.height))
	if r.Empty() {
		return
	}
	w.damaged = w.damaged.Union(r)
	w.f.rows.Add(r.Min.Y, r.Max.Y)
	w.changed = true
}

// Resize changes the size; the picture becomes black and wholly damaged. Resizing to the current size changes
// nothing. The pixel memory is reused when it is big enough. A size beyond MaxWidth x MaxHeight returns
// [ErrTooLarge] and changes nothing.
func (w *Writer) Resize(width, height int) error {
	if width < 0 || height < 0 || width > MaxWidth || height > MaxHeight {
		return fmt.Errorf("%w: %dx%d (max %dx%d)", ErrTooLarge, width, height, MaxWidth, MaxHeight)
	}
	f := w.f
	if width == f.width && height == f.height && f.pix != nil {
		return nil
	}
	stride := width * BytesPerPixel
	n := stride * height
	if cap(f.pix) < n {
		f.pix = make([]byte, n)
	} else {
		f.pix = f.pix[:n]
		clear(f.pix)
	}
	f.width, f.height, f.stride = width, height, stride
	f.size.Store(uint64(width)<<32 | uint64(height))
	f.dmu.Lock()
	f.damage = image.Rectangle{}
	f.dmu.Unlock()
	f.rows.Reset(height)
	f.rows.Add(0, height)
	w.damaged = image.Rect(0, 0, width, height)
	w.changed = true
	return nil
}

// End publishes the changes (sequence number, damage, change time, subscriber signals) and unlocks.
func (w *Writer) End() {
	f := w.f
	changed := w.changed
	if changed {
		f.dmu.Lock()
		f.damage = f.damage.Union(w.damaged)
		f.dmu.Unlock()
		f.seq.Add(1)
		f.changedNs.Store(time.Now().UnixNano())
	}
	w.f = nil
	f.mu.Unlock()
	if changed {
		f.changes.Notify()
	}
}
