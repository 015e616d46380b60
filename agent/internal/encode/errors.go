package encode

import "errors"

// Errors returned by this package.
var (
	// ErrUnknownCodec is returned for a codec name other than "h264" or "vp8".
	ErrUnknownCodec = errors.New("encode: unknown codec")
	// ErrPipeline is returned when a GStreamer pipeline cannot be built or started.
	ErrPipeline = errors.New("encode: pipeline failed")
	// ErrClosed is returned by an encoder that was closed.
	ErrClosed = errors.New("encode: closed")
	// ErrFrameSize is returned for a frame that is empty or larger than the encoder accepts.
	ErrFrameSize = errors.New("encode: bad frame size")
	// ErrPush is returned when appsrc refuses a buffer (the pipeline stopped or failed).
	ErrPush = errors.New("encode: push failed")
)
