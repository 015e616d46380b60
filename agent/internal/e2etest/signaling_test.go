package e2etest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
	"github.com/loco-cluster/loco/agent/internal/webrtc"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

// TestDirectWHEP: the agent's own WHEP endpoint answers an offer with 201, a Location and the granted role,
// refuses garbage clearly, and DELETE ends the session.
func TestDirectWHEP(t *testing.T) {
	_, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown})
	in := startAgent(t, addr, encode.VP8, nil)
	srv := httptest.NewServer(in.WebRTC.WHEPHandler())
	defer srv.Close()

	post := func(ct, body, query string) *http.Response {
		t.Helper()
		resp, err := http.Post(srv.URL+"/whep"+query, ct, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := post("text/plain", "v=0", ""); r.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("wrong content type: %d", r.StatusCode)
	}
	r := post("application/sdp", "this is not SDP", "")
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "bad offer") {
		t.Errorf("garbage: %d %q", r.StatusCode, b)
	}
	if r := post("application/sdp", strings.Repeat("a", 70<<10), ""); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("huge body: %d", r.StatusCode)
	}

	v, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	offer, err := v.Offer()
	if err != nil {
		t.Fatal(err)
	}
	r = post("application/sdp", offer, "?role=controller&viewer=v-1&name=Ana")
	answer, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusCreated || r.Header.Get("X-Loco-Role") != "controller" ||
		!strings.HasPrefix(r.Header.Get("Location"), "/whep/sessions/") {
		t.Fatalf("offer: %d %v %s", r.StatusCode, r.Header, answer)
	}
	if err := v.Accept(string(answer)); err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t, 2*time.Minute)
	if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 3 }); err != nil {
		t.Fatal("no video over direct WHEP")
	}
	if c := in.WebRTC.Controller(); c == nil || c.ID != "v-1" || c.Name != "Ana" {
		t.Errorf("controller %+v", c)
	}
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+r.Header.Get("Location"), strings.NewReader("a=x"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PATCH: %v %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodDelete, srv.URL+r.Header.Get("Location"), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE: %v %v", resp, err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %v %v", resp, err)
	}
	if st := in.WebRTC.Stats(); st.Sessions != 0 {
		t.Errorf("%d sessions after DELETE", st.Sessions)
	}
}

// TestBadOffersHarmNothing: malformed and hostile SDP get ErrBadOffer while an existing viewer keeps receiving.
func TestBadOffersHarmNothing(t *testing.T) {
	_, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown})
	in := startAgent(t, addr, encode.H264, nil)
	v, _ := connect(t, in, "good", false)
	ctx := waitCtx(t, 2*time.Minute)
	if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= 3 }); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"",
		"garbage",
		"v=0\r\n",
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n",                                   // no media
		"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n", // no ICE, no DTLS
		strings.Repeat("m=audio 9 RTP/AVP 0\r\n", 1000),
	}
	for i, sdp := range bad {
		_, err := in.WebRTC.Offer(context.Background(), webrtc.OfferRequest{SessionID: "bad", SDP: sdp,
			Viewer: webrtc.Viewer{ID: "x"}})
		if !errors.Is(err, webrtc.ErrBadOffer) {
			t.Errorf("offer %d: err %v, want ErrBadOffer", i, err)
		} else {
			t.Logf("offer %d: %v", i, err)
		}
	}
	if st := in.WebRTC.Stats(); st.Sessions != 1 {
		t.Errorf("%d sessions after the bad offers, want 1", st.Sessions)
	}
	n := len(v.Frames())
	if err := v.WaitFor(ctx, func() bool { return len(v.Frames()) >= n+10 }); err != nil {
		t.Fatal("the good viewer stopped receiving")
	}
	// A second offer with the same session id is refused too.
	offer, _ := v.Offer()
	if _, err := in.WebRTC.Offer(ctx, webrtc.OfferRequest{SessionID: "s-good", SDP: offer}); !errors.Is(err, webrtc.ErrDuplicateSession) {
		t.Errorf("duplicate session id: %v", err)
	}
	if err := in.WebRTC.CloseSession("nope", "test"); !errors.Is(err, webrtc.ErrUnknownSession) {
		t.Errorf("closing an unknown session: %v", err)
	}
}
