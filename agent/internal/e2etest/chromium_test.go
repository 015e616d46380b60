package e2etest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
)

// whepPage plays the agent's WHEP stream in the browser and posts the video's inbound-rtp stats once it decoded
// 150 frames (about 6 s of playing on a quiet machine), or after two minutes with what it has then.
const whepPage = `<!doctype html><html><body><video id=v muted autoplay playsinline></video><script>
(async () => {
  const out = {};
  try {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    pc.createDataChannel('input');
    pc.ontrack = (e) => { if (e.track.kind === 'video') document.getElementById('v').srcObject = e.streams[0]; };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => {
      if (pc.iceGatheringState === 'complete') return r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
      setTimeout(r, 30000);
    });
    out.offerHasPlayoutDelay = pc.localDescription.sdp.includes('playout-delay');
    const resp = await fetch('/whep', {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
    const answer = await resp.text();
    out.status = resp.status;
    out.answerHasPlayoutDelay = answer.includes('playout-delay');
    await pc.setRemoteDescription({type: 'answer', sdp: answer});
    for (const end = Date.now() + 120000; Date.now() < end && !(out.framesDecoded >= 150); ) {
      await new Promise((r) => setTimeout(r, 250));
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') Object.assign(out, {
          framesDecoded: s.framesDecoded, framesReceived: s.framesReceived, frameWidth: s.frameWidth,
          jitterBufferDelay: s.jitterBufferDelay, jitterBufferEmittedCount: s.jitterBufferEmittedCount,
          jitterBufferTargetDelay: s.jitterBufferTargetDelay, jitterBufferMinimumDelay: s.jitterBufferMinimumDelay,
          decoderImplementation: s.decoderImplementation});
      });
    }
  } catch (e) { out.error = String(e); }
  await fetch('/result', {method: 'POST', body: JSON.stringify(out)});
})();
</script></body></html>`

type browserStats struct {
	Error                    string  `json:"error"`
	Status                   int     `json:"status"`
	OfferHasPlayoutDelay     bool    `json:"offerHasPlayoutDelay"`
	AnswerHasPlayoutDelay    bool    `json:"answerHasPlayoutDelay"`
	FramesDecoded            int     `json:"framesDecoded"`
	FramesReceived           int     `json:"framesReceived"`
	FrameWidth               int     `json:"frameWidth"`
	JitterBufferDelay        float64 `json:"jitterBufferDelay"`
	JitterBufferEmittedCount float64 `json:"jitterBufferEmittedCount"`
	JitterBufferTargetDelay  float64 `json:"jitterBufferTargetDelay"`
	JitterBufferMinimumDelay float64 `json:"jitterBufferMinimumDelay"`
	DecoderImplementation    string  `json:"decoderImplementation"`
}

// meanJitterMs is the mean time a frame spent in the browser's jitter buffer.
func (s browserStats) meanJitterMs() float64 {
	if s.JitterBufferEmittedCount == 0 {
		return 0
	}
	return 1000 * s.JitterBufferDelay / s.JitterBufferEmittedCount
}

// playInChromium serves the page and the agent's WHEP endpoint, runs headless Chromium on it and returns the
// browser's stats.
func playInChromium(t *testing.T, in *instance.Instance) browserStats {
	t.Helper()
	results := make(chan browserStats, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, whepPage) })
	mux.Handle("POST /whep", in.WebRTC.WHEPHandler())
	mux.HandleFunc("POST /result", func(_ http.ResponseWriter, r *http.Request) {
		var s browserStats
		_ = json.NewDecoder(r.Body).Decode(&s)
		results <- s
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cmd := exec.Command("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--autoplay-policy=no-user-gesture-required",
		"--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns", srv.URL+"/")
	if testing.Verbose() {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	select {
	case s := <-results:
		return s
	case <-time.After(4 * time.Minute):
		t.Fatal("no result from Chromium within 4 minutes")
	}
	return browserStats{}
}

// TestChromiumPlaysWithPlayoutDelay: headless Chromium plays the agent's stream over WHEP (H.264), negotiates the
// playout-delay extension and honours it: frames spend far less time in its jitter buffer than without it.
func TestChromiumPlaysWithPlayoutDelay(t *testing.T) {
	_, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown})
	run := func(noDelay bool) browserStats {
		in := startAgent(t, addr, encode.H264, func(c *instance.Config) { c.WebRTC.NoPlayoutDelay = noDelay })
		s := playInChromium(t, in)
		t.Logf("playout-delay off=%v: %+v, mean jitter buffer delay %.1f ms", noDelay, s, s.meanJitterMs())
		if s.Error != "" || s.Status != http.StatusCreated {
			t.Fatalf("page error %q, WHEP status %d", s.Error, s.Status)
		}
		if s.FramesDecoded < 30 || s.FrameWidth != 800 {
			t.Fatalf("Chromium decoded %d frames of width %d", s.FramesDecoded, s.FrameWidth)
		}
		return s
	}
	with := run(false)
	if !with.OfferHasPlayoutDelay || !with.AnswerHasPlayoutDelay {
		t.Fatalf("playout-delay not negotiated: offer %v answer %v", with.OfferHasPlayoutDelay, with.AnswerHasPlayoutDelay)
	}
	without := run(true)
	t.Logf("jitter buffer: mean %.1f ms per frame with playout-delay 0, %.1f ms without",
		with.meanJitterMs(), without.meanJitterMs())
	// Not a speed limit: the browser must hold frames clearly shorter when the extension says 0.
	if with.meanJitterMs() >= without.meanJitterMs()/2 {
		t.Errorf("Chromium does not honour playout-delay: %.1f ms with, %.1f ms without",
			with.meanJitterMs(), without.meanJitterMs())
	}
}
