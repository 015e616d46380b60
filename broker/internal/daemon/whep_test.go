package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loco-cluster/loco/broker/internal/agenttest"
	"github.com/loco-cluster/loco/broker/internal/config"
	"github.com/loco-cluster/loco/broker/internal/daemon"
)

type reply struct {
	code   int
	header http.Header
	body   string
}

func do(t *testing.T, method, u, ctype, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// expectPlain checks an error answer: status, text/plain, a non-empty one-line reason.
func expectPlain(t *testing.T, what string, r reply, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: status %d (%q), want %d", what, r.code, r.body, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("%s: Content-Type %q, want text/plain", what, ct)
	}
	if reason := strings.TrimSpace(r.body); reason == "" || strings.Contains(reason, "\n") {
		t.Errorf("%s: reason %q, want one short line", what, r.body)
	}
}

func TestWHEPConformance(t *testing.T) {
	b := startBroker(t, "", func(c *config.Broker) { c.AnswerTimeout = time.Second }, daemon.Options{})
	agent := startAgent(t, agenttest.Config{ID: "loco-0", Broker: b.grpc, HealthEvery: 200 * time.Millisecond})
	slow := startAgent(t, agenttest.Config{ID: "loco-2", Broker: b.grpc, HealthEvery: 200 * time.Millisecond})
	slow.SetIgnoreOffers(true)
	<-agent.Attached()
	<-slow.Attached()
	waitFor(t, 5*time.Second, "both agents in the registry", func() bool {
		a, _ := b.Registry.Get("loco-0")
		c, _ := b.Registry.Get("loco-2")
		return a.GetAgent() != nil && c.GetAgent() != nil
	})
	_, offer, err := agenttest.Offer()
	if err != nil {
		t.Fatal(err)
	}
	whep := func(id string) string { return b.base + "/api/instances/" + id + "/whep" }

	t.Run("errors", func(t *testing.T) {
		expectPlain(t, "unknown instance", do(t, "POST", whep("nope"), "application/sdp", offer), 404)
		expectPlain(t, "wrong content type", do(t, "POST", whep("loco-0"), "text/plain", offer), 415)
		expectPlain(t, "no content type", do(t, "POST", whep("loco-0"), "", offer), 415)
		expectPlain(t, "not SDP", do(t, "POST", whep("loco-0"), "application/sdp", "hello, broker"), 400)
		expectPlain(t, "SDP without media", do(t, "POST", whep("loco-0"), "application/sdp",
			"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"), 400)
		big := offer + strings.Repeat("a=x-padding:"+strings.Repeat("x", 1000)+"\r\n", 70)
		expectPlain(t, "oversized", do(t, "POST", whep("loco-0"), "application/sdp", big), 413)
		expectPlain(t, "bad role", do(t, "POST", whep("loco-0")+"?role=king", "application/sdp", offer), 400)
		r := do(t, "POST", whep("loco-1"), "application/sdp", offer)
		expectPlain(t, "agent not attached", r, 503)
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		start := time.Now()
		expectPlain(t, "agent silent", do(t, "POST", whep("loco-2"), "application/sdp", offer), 504)
		if d := time.Since(start); d < time.Second {
			t.Errorf("504 after %s, before the 1s answer timeout", d)
		}
		// Parses as SDP, but the agent's Pion refuses it (no ICE credentials): the agent's INVALID_ARGUMENT is a 400.
		noICE := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n" +
			"a=rtpmap:96 VP8/90000\r\na=recvonly\r\na=mid:0\r\n"
		expectPlain(t, "offer the agent refuses", do(t, "POST", whep("loco-0"), "application/sdp", noICE), 400)
		expectPlain(t, "DELETE unknown session", do(t, "DELETE", whep("loco-0")+"/sessions/0123456789abcdef0123456789abcdef", "", ""), 404)
		expectPlain(t, "DELETE junk session", do(t, "DELETE", whep("loco-0")+"/sessions/..%2f..", "", ""), 404)
		expectPlain(t, "PATCH unknown session", do(t, "PATCH", whep("loco-0")+"/sessions/x", "application/trickle-ice-sdpfrag", "a=ice-ufrag:x\r\n"), 404)
		if r := do(t, "GET", whep("loco-0"), "", ""); r.code != 405 || !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Errorf("GET on the WHEP endpoint: %d Allow=%q, want 405 with Allow: POST", r.code, r.header.Get("Allow"))
		}
		if r := do(t, "OPTIONS", whep("loco-0"), "", ""); r.code != 204 || r.header.Get("Accept-Post") != "application/sdp" {
			t.Errorf("OPTIONS: %d Accept-Post=%q", r.code, r.header.Get("Accept-Post"))
		}
	})

	t.Run("session", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		v, err := agenttest.Watch(ctx, b.base, "loco-0", url.Values{"role": {"controller"}, "viewer": {"v1"}, "name": {"Ann"}})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if !regexp.MustCompile(`^/api/instances/loco-0/whep/sessions/[0-9a-f]{32}$`).MatchString(v.Location) {
			t.Errorf("Location %q", v.Location)
		}
		if v.Role != "controller" {
			t.Errorf("X-Loco-Role %q, want controller", v.Role)
		}
		select {
		case <-v.Track:
		case <-ctx.Done():
			t.Fatal("no RTP from the agent: the WHEP session did not complete")
		}
		// A second viewer asking for control gets spectator: control is held.
		v2, err := agenttest.Watch(ctx, b.base, "loco-0", url.Values{"role": {"controller"}, "viewer": {"v2"}, "name": {"Bob"}})
		if err != nil {
			t.Fatal(err)
		}
		defer v2.Close()
		if v2.Role != "spectator" {
			t.Errorf("second controller request granted %q, want spectator", v2.Role)
		}
		waitFor(t, 5*time.Second, "controller v1 in the registry", func() bool {
			in, _ := b.Registry.Get("loco-0")
			return in.GetController().GetId() == "v1"
		})

		// Trickle ICE is relayed.
		if r := do(t, "PATCH", b.base+v.Location, "application/trickle-ice-sdpfrag", "a=ice-ufrag:abcd\r\na=ice-pwd:efgh\r\n"); r.code != 204 {
			t.Errorf("PATCH: %d %q, want 204", r.code, r.body)
		}
		expectPlain(t, "PATCH wrong type", do(t, "PATCH", b.base+v.Location, "application/sdp", "x"), 415)

		// Control hand-over through the API.
		r := do(t, "POST", b.base+"/api/instances/loco-0/control", "application/json", `{"viewerId":"v2"}`)
		if r.code != 200 {
			t.Fatalf("control: %d %q", r.code, r.body)
		}
		var ctl struct {
			Controller *struct{ ID, Name string } `json:"controller"`
		}
		if err := json.Unmarshal([]byte(r.body), &ctl); err != nil || ctl.Controller == nil || ctl.Controller.ID != "v2" {
			t.Errorf("control answer %q (%v), want controller v2", r.body, err)
		}
		r = do(t, "POST", b.base+"/api/instances/loco-0/control", "application/json", `{"viewerId":""}`)
		if r.code != 200 || strings.TrimSpace(r.body) != `{"controller":null}` {
			t.Errorf("release: %d %q", r.code, r.body)
		}
		expectPlain(t, "control bad body", do(t, "POST", b.base+"/api/instances/loco-0/control", "application/json", `{}`), 400)
		expectPlain(t, "control unknown viewer", do(t, "POST", b.base+"/api/instances/loco-0/control", "application/json", `{"viewerId":"ghost"}`), 404)
		expectPlain(t, "control not attached", do(t, "POST", b.base+"/api/instances/loco-1/control", "application/json", `{"viewerId":"v2"}`), 503)

		// DELETE ends the session on the agent.
		before := agent.Sessions()
		if r := do(t, "DELETE", b.base+v.Location, "", ""); r.code != 200 {
			t.Fatalf("DELETE: %d %q", r.code, r.body)
		}
		waitFor(t, 5*time.Second, "the agent to close the session", func() bool { return agent.Sessions() == before-1 })
		expectPlain(t, "second DELETE", do(t, "DELETE", b.base+v.Location, "", ""), 404)
		expectPlain(t, "DELETE via another instance", do(t, "DELETE", strings.Replace(b.base+v2.Location, "loco-0", "loco-2", 1), "", ""), 404)
	})

	t.Run("screenshot and restart", func(t *testing.T) {
		r := do(t, "GET", b.base+"/api/instances/loco-0/screenshot", "", "")
		if r.code != 200 || r.header.Get("Content-Type") != "image/png" {
			t.Fatalf("screenshot: %d %q", r.code, r.header.Get("Content-Type"))
		}
		if _, err := png.Decode(bytes.NewReader([]byte(r.body))); err != nil {
			t.Errorf("screenshot is not a PNG: %v", err)
		}
		r = do(t, "POST", b.base+"/api/instances/loco-0/restart", "", "")
		if r.code != 202 || !strings.Contains(r.body, `"action":"qemu restarted"`) || agent.Restarts.Load() != 1 {
			t.Errorf("restart: %d %q, agent restarts %d", r.code, r.body, agent.Restarts.Load())
		}
		agent.SetRestartUnsupported(true)
		expectPlain(t, "restart refused by agent", do(t, "POST", b.base+"/api/instances/loco-0/restart", "", ""), 409)
		expectPlain(t, "restart unknown", do(t, "POST", b.base+"/api/instances/nope/restart", "", ""), 404)
		expectPlain(t, "screenshot unknown", do(t, "GET", b.base+"/api/instances/nope/screenshot", "", ""), 404)
		expectPlain(t, "instance unknown", do(t, "GET", b.base+"/api/instances/nope", "", ""), 404)
		expectPlain(t, "API unknown", do(t, "GET", b.base+"/api/nothing", "", ""), 404)
	})
}
