// Package encode runs the agent's GStreamer pipelines: the video encoder fed from the framebuffer and the Opus
// encoder fed from PulseAudio. It is the only package of the agent that uses cgo.
//
// # Video
//
//	framebuffer (BGRX) --convert changed rows--> I420 picture --copy changed rows--> appsrc (I420) ! videoconvert !
//	    <encoder> ! capsfilter ! appsink
//
// [Video] implements [capture.Sink]: the pacer hands it a frame under the framebuffer's read lock. WriteFrame keeps
// an I420 picture of the framebuffer up to date by converting only the bands of rows the frame changed (16 rows at a
// time, with GStreamer's own converter set up as videoconvert sets it up, so the pixels are exactly videoconvert's);
// when the encoder did not see the previous frame (the frame's PrevSeq), the whole picture is converted. It then
// pushes one of a few reused buffers, brought up to date by copying the rows changed since that buffer was last
// pushed, and returns. So a small change costs a small conversion and a small copy, not a whole-frame conversion and
// a fresh 2 MB buffer. videoconvert stays in the pipeline and passes I420 through (it converts for a hardware encoder
// that wants another format). [Video.Push] converts a whole picture. With [VideoConfig.Scale] (the half-size layer) the
// picture goes in as it is, BGRx, a whole copy per frame: appsrc (BGRx) ! videoscale ! capsfilter ! videoconvert !
// <encoder>, so the small picture keeps the pixels of scaling before converting.
//
// appsrc holds at most one frame (max-buffers=1, leaky downstream: a newer frame replaces one the encoder has not
// started yet); appsink holds at most one encoded frame, which a goroutine pulls at once and hands to
// [VideoConfig.Output]. Nothing else queues. The goroutine waits for a frame in Go's poller (appsink's callback writes
// a byte into a pipe), not in a blocking cgo call; the bus is watched the same way. A goroutine blocked in C makes
// the Go runtime's sysmon thread poll every 20 µs for a while whenever it takes that goroutine's P back, which was a
// good part of the agent's CPU on a still screen.
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
// (push to pull: the colour conversion before the push is not part of it) is measured ([Video.Timings]).
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
