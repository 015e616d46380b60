package encode

import (
	"fmt"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// Decoder decodes an H.264 (byte-stream, one access unit per call) or VP8 stream back to BGRx pictures. The agent
// does not decode; tests and measuring tools do, to compare what a viewer receives with the framebuffer.
type Decoder struct {
	*appPipeline
	src, sink *gst.Element
	mu        sync.Mutex
	pts       time.Duration
}

// Picture is one decoded BGRx picture (stride Width*4).
type Picture struct {
	Width, Height int
	Pix           []byte
}

// NewDecoder builds a decoder for codec (avdec_h264 or vp8dec, single-threaded so no frame is held back).
func NewDecoder(codec Codec) (*Decoder, error) {
	var dec string
	switch codec {
	case H264:
		dec = `caps="video/x-h264,stream-format=byte-stream,alignment=au" ! h264parse ! avdec_h264 max-threads=1`
	case VP8:
		dec = `caps=video/x-vp8 ! vp8dec threads=1`
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownCodec, codec)
	}
	desc := "appsrc name=src is-live=true format=time do-timestamp=false " + dec +
		" ! videoconvert ! video/x-raw,format=BGRx ! appsink name=sink sync=false max-buffers=4 drop=false"
	a, err := newAppPipeline(desc, "src", "sink")
	if err != nil {
		return nil, err
	}
	d := &Decoder{appPipeline: a, src: a.elems["src"], sink: a.elems["sink"]}
	return d, d.play("decoder")
}

// Decode feeds one encoded frame and returns the picture it decodes to, waiting up to timeout. ok is false when
// the decoder produced nothing (for example a P-frame before the first keyframe).
func (d *Decoder) Decode(frame []byte, timeout time.Duration) (pic Picture, ok bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pts += 33 * time.Millisecond
	if err := pushBytes(d.src, frame, d.pts); err != nil {
		return Picture{}, false, err
	}
	var s pulled
	if !s.tryPull(d.sink, timeout) {
		return Picture{}, false, nil
	}
	defer s.release()
	w, h := s.size()
	pic = Picture{Width: w, Height: h, Pix: append([]byte(nil), s.data()...)}
	return pic, true, nil
}

// Close stops the decoder.
func (d *Decoder) Close() error {
	return d.stop("decoder")
}
