package encode

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// AudioDecoder decodes Opus packets back to 48 kHz stereo samples. The agent does not decode audio; tests do, to
// check what a viewer hears.
type AudioDecoder struct {
	*appPipeline
	src, sink *gst.Element
	mu        sync.Mutex
	pts       time.Duration
}

// NewAudioDecoder builds an Opus decoder.
func NewAudioDecoder() (*AudioDecoder, error) {
	desc := `appsrc name=src is-live=true format=time do-timestamp=false ` +
		`caps="audio/x-opus,channel-mapping-family=(int)0,channels=(int)2,rate=(int)48000" ! opusdec ! ` +
		`audioconvert ! audio/x-raw,format=S16LE,rate=48000,channels=2 ! ` +
		`appsink name=sink sync=false max-buffers=1000 drop=false`
	a, err := newAppPipeline(desc, "src", "sink")
	if err != nil {
		return nil, err
	}
	d := &AudioDecoder{appPipeline: a, src: a.elems["src"], sink: a.elems["sink"]}
	return d, d.play("audio decoder")
}

// Decode feeds one Opus packet of the given duration and returns the decoded interleaved stereo samples.
func (d *AudioDecoder) Decode(packet []byte, dur time.Duration, timeout time.Duration) ([]int16, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pts += dur
	if err := pushBytes(d.src, packet, d.pts); err != nil {
		return nil, err
	}
	var s pulled
	if !s.tryPull(d.sink, timeout) {
		return nil, nil
	}
	defer s.release()
	b := s.data()
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out, nil
}

// Close stops the decoder.
func (d *AudioDecoder) Close() error {
	return d.stop("audio decoder")
}
