package e2etest

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/health"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/pulse"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

// playTone plays a 48 kHz stereo sine into the server's sink with pacat until the test ends.
func playTone(t *testing.T, srv *pulse.Server, freq, amp float64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "pacat", "--server="+srv.Address(), "--device="+srv.Sink(), "--playback",
		"--format=s16le", "--rate=48000", "--channels=2", "--latency-msec=200")
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 480*4)
		for n := 0; ; {
			for i := 0; i < 480; i++ {
				v := int16(amp * 32767 * math.Sin(2*math.Pi*freq*float64(n)/48000))
				binary.LittleEndian.PutUint16(buf[4*i:], uint16(v))
				binary.LittleEndian.PutUint16(buf[4*i+2:], uint16(v))
				n++
			}
			if _, err := w.Write(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = w.(io.Closer).Close()
		_ = cmd.Wait()
		<-done
	})
}

// TestAudioTone: a tone played into the instance's PulseAudio null sink reaches a viewer as Opus and decodes to the
// same frequency; the health figures report its level.
func TestAudioTone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pa, err := pulse.Start(ctx, pulse.Config{Dir: t.TempDir(), Sink: "loco", Logger: testLogger(t)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// Registered before the agent's cleanup, so it runs after it: the agent stops recording first.
	t.Cleanup(func() {
		cancel()
		_ = pa.Stop()
	})
	_, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneStill})
	in := startAgent(t, addr, encode.H264, func(c *instance.Config) {
		c.AudioOff, c.AudioServer, c.AudioDevice = false, pa.Address(), pa.MonitorSource()
	})
	playTone(t, pa, 440, 0.5)
	v, _ := connect(t, in, "listener", false)
	wctx := waitCtx(t, 2*time.Minute)
	// Wait until the tone reaches the encoder at its level (PulseAudio buffers before it plays, and a measuring
	// window that holds the tone's start reads lower), then take one second.
	var f health.Figures
	if err := v.WaitFor(wctx, func() bool {
		in.Figures(&f)
		return f.AudioRunning && math.Abs(f.AudioRMSdBFS+9) <= 3
	}); err != nil {
		t.Fatalf("the tone did not reach the encoder at about -9 dBFS: %+v", f)
	}
	n := len(v.Audio())
	if err := v.WaitFor(wctx, func() bool { return len(v.Audio()) >= n+100 }); err != nil {
		t.Fatalf("%d Opus packets arrived", len(v.Audio())-n)
	}
	dec, err := encode.NewAudioDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var pcm []int16
	for _, p := range v.Audio()[n:] {
		out, err := dec.Decode(p.Data, 10*time.Millisecond, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, out...)
	}
	left := encode.LeftChannel(pcm)
	if len(left) < 48000*9/10 {
		t.Fatalf("decoded %d samples", len(left))
	}
	tail := left[len(left)/10:] // skip the decoder's start
	freq := encode.DominantFrequency(tail, 48000)
	level := encode.RMSDBFS(tail)
	t.Logf("received tone: %.1f Hz at %.1f dBFS", freq, level)
	if math.Abs(freq-440) > 5 {
		t.Errorf("received %.1f Hz, want 440", freq)
	}
	if math.Abs(level+9) > 3 {
		t.Errorf("received level %.1f dBFS, want about -9", level)
	}
}
