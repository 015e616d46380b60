package encode

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/go-gst/go-gst/gst"
)

// AudioDecoder decodes Opus packets back to 48 kHz stereo samples. The agent does not decode audio; tests do, to
// check what a viewer hears.
type AudioDecoder struct {
	pipeline *gst.Pipeline
	src      *gst.Element
	sink     *gst.Element
	mu       sync.Mutex
	pts      time.Duration
}

// NewAudioDecoder builds an Opus decoder.
func NewAudioDecoder() (*AudioDecoder, error) {
	Init()
	desc := `appsrc name=src is-live=true format=time do-timestamp=false ` +
		`caps="audio/x-opus,channel-mapping-family=(int)0,channels=(int)2,rate=(int)48000" ! opusdec ! ` +
		`audioconvert ! audio/x-raw,format=S16LE,rate=48000,channels=2 ! ` +
		`appsink name=sink sync=false max-buffers=1000 drop=false`
	p, err := gst.NewPipelineFromString(desc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrPipeline, desc, err)
	}
	d := &AudioDecoder{pipeline: p}
	if d.src, err = p.GetElementByName("src"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPipeline, err)
	}
	if d.sink, err = p.GetElementByName("sink"); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPipeline, err)
	}
	if err := p.SetState(gst.StatePlaying); err != nil {
		return nil, fmt.Errorf("%w: start audio decoder: %w", ErrPipeline, err)
	}
	return d, nil
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
	if err := d.pipeline.SetState(gst.StateNull); err != nil {
		return fmt.Errorf("%w: stop audio decoder: %w", ErrPipeline, err)
	}
	return nil
}
