package instance

import (
	"github.com/loco-cluster/loco/agent/internal/health"
	"github.com/loco-cluster/loco/agent/internal/input"
)

// Figures is a [health.Source] with the media path's measurements. Call it once per health interval: the encode
// timings and the audio level are measured since the previous call.
func (in *Instance) Figures(f *health.Figures) {
	f.VNCConnected = in.RFB.Connected()
	f.VNCFPS = in.RFB.UpdatesPerSecond()
	f.EncodedFPS = in.Pacer.Stats().FPS
	st := in.Monitor.Check()
	f.HaveFrame = st.Width > 0 && st.Height > 0
	f.SinceChange, f.Black, f.Frozen = st.SinceChange, st.Black, st.Frozen
	f.Width, f.Height = st.Width, st.Height
	f.GuestBPP = in.RFB.Mode().GuestBPP
	f.AudioExpected = !in.cfg.AudioOff
	if a := in.Audio(); a != nil {
		f.AudioRunning = true
		f.AudioPackets, _ = a.Packets()
		f.AudioRMSdBFS = a.Level()
	} else {
		f.AudioRMSdBFS = -100
	}
	t := in.Video.Timings().Take()
	if sv := in.SmallVideo(); sv != nil {
		// While only tiles watch, the full-size encoder is idle: report the half-size one's timings.
		if ts := sv.Timings().Take(); t.Count == 0 {
			t = ts
		}
	}
	f.EncodeMean, f.EncodeP95 = t.Mean, t.P95
	w := in.WebRTC.Stats()
	f.TargetBps = in.Video.BitRate()
	f.SentBps = w.SentBps
	f.Viewers = w.Viewers
	f.RTTms, f.Loss = w.RTTms, w.Loss
	f.PLIs, f.FIRs, f.NACKs = w.Feedback.PLIs, w.Feedback.FIRs, w.Feedback.NACKs
	f.NACKedPackets, f.Retransmitted = w.Feedback.NACKedPackets, w.Feedback.Retransmitted
	is := in.Input.Stats()
	f.InputInjected = is.Injected
	f.InputRejected = map[string]uint64{
		input.ReasonMalformed:  is.Malformed,
		input.ReasonUnknownKey: is.UnknownKey,
		input.ReasonSpectator:  is.Spectator,
	}
}
