package encode

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-gst/go-gst/gst"

	"github.com/loco-cluster/loco/agent/internal/pulse"
)

// startPulse starts a private PulseAudio server with a null sink for the test.
func startPulse(t *testing.T) *pulse.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := pulse.Start(ctx, pulse.Config{Dir: t.TempDir(), Sink: "loco"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Stop()
	})
	return srv
}

// playTone plays a sine of freq Hz at amplitude vol into the server's sink until the test ends.
func playTone(t *testing.T, srv *pulse.Server, freq, vol float64) {
	t.Helper()
	Init()
	p, err := gst.NewPipelineFromString("audiotestsrc is-live=true wave=sine freq=" + ftoa(freq) + " volume=" +
		ftoa(vol) + " ! audio/x-raw,rate=48000,channels=2 ! pulsesink server=" + quoteProp(srv.Address()) +
		" device=" + quoteProp(srv.Sink()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetState(gst.StatePlaying); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.SetState(gst.StateNull) })
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestAudioToneRoundTrip(t *testing.T) {
	srv := startPulse(t)
	var mu sync.Mutex
	var packets [][]byte
	a, err := NewAudio(AudioConfig{Server: srv.Address(), Device: srv.MonitorSource(), Output: func(s Sample) {
		mu.Lock()
		packets = append(packets, append([]byte(nil), s.Data...))
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	playTone(t, srv, 440, 0.5)

	// Wait for the tone to arrive (PulseAudio buffers before it plays), then collect one second of audio.
	deadline := time.Now().Add(20 * time.Second)
	for a.Level() < -20 {
		if time.Now().After(deadline) {
			t.Fatal("the tone did not reach the encoder within 20 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	packets = nil
	mu.Unlock()
	for {
		mu.Lock()
		n := len(packets)
		mu.Unlock()
		if n >= 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d Opus packets", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	level := a.Level()
	dec, err := NewAudioDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	mu.Lock()
	got := append([][]byte(nil), packets...)
	mu.Unlock()
	var pcm []int16
	for _, p := range got {
		out, err := dec.Decode(p, a.FrameDuration(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, out...)
	}
	left := LeftChannel(pcm)
	if len(left) < 48000*9/10 {
		t.Fatalf("decoded only %d samples", len(left))
	}
	tail := left[len(left)/10:] // skip the decoder's start
	if f := DominantFrequency(tail, 48000); math.Abs(f-440) > 5 {
		t.Errorf("decoded tone at %.1f Hz, want 440", f)
	}
	// 0.5 amplitude sine: RMS 0.354, -9 dBFS.
	if db := RMSDBFS(tail); math.Abs(db+9) > 2 {
		t.Errorf("decoded level %.1f dBFS, want about -9", db)
	}
	if math.Abs(level+9) > 3 {
		t.Errorf("measured level at the encoder %.1f dBFS, want about -9", level)
	}
}

func TestAudioUnreachableServer(t *testing.T) {
	_, err := NewAudio(AudioConfig{Server: "unix:" + t.TempDir() + "/nothing", Output: func(Sample) {}})
	if err == nil {
		t.Fatal("NewAudio with no server succeeded")
	}
	t.Log(err)
}
