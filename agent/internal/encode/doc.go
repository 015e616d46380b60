// Package encode runs the agent's GStreamer pipelines: the video encoder fed from the framebuffer and the Opus
// encoder fed from PulseAudio. It is the only package of the agent that uses cgo.
//
// # Video
//
//	appsrc (BGRx) ! videoconvert ! <encoder> ! capsfilter ! appsink
//
// [Video] implements [capture.Sink]: the pacer hands it a frame under the framebuffer's read lock, WriteFrame copies
// the pixels once into a GStreamer buffer and pushes it, and returns. appsrc holds at most one frame (max-buffers=1,
// leaky downstream: a newer frame replaces one the encoder has not started yet); appsink holds at most one encoded
// frame, which a goroutine pulls at once and hands to [VideoConfig.Output]. Nothing else queues.
//
// Encoders ([Codec]):
//   - H.264: x264enc tune=zerolatency speed-preset=ultrafast, constrained baseline, byte-stream, no B-frames, one
//     access unit per buffer, SPS/PPS repeated before every IDR. Rate control is constant quality (CRF, pass=qual)
//     with the target bitrate as a VBV cap, so a still screen costs (almost) nothing and motion is bounded.
//   - VP8: vp8enc deadline=1 (real time), lag-in-frames=0, error-resilient, constrained quality (end-usage=cq) with
//     the target as the cap.
//   - A hardware H.264 encoder is used instead of x264enc when the GStreamer registry has one ([HardwareH264]).
//
// Keyframes are made only on demand ([Video.ForceKeyFrame], a GStreamer upstream force-key-unit event) and on
// mode changes (a new frame size sets new caps on appsrc, the encoder renegotiates and starts with a keyframe); the
// periodic keyframe interval is very long. [Video.SetBitRate] changes the target while playing. Encode time per frame
// (push to pull) is measured ([Video.Stats]).
//
// The frame path allocates nothing in steady state: pushing and pulling are direct cgo calls, the encoded data is
// copied into one reused Go buffer that is valid only during the Output call.
//
// # Audio
//
//	pulsesrc ! audioconvert ! audioresample ! S16LE 48 kHz stereo ! opusenc frame-size=10|20 inband-fec=true ! appsink
//
// [Audio] hands every Opus packet to [AudioConfig.Output] and measures the RMS level of the samples entering the
// encoder (a pad probe in C), reported in dBFS ([Audio.Level]).
package encode
