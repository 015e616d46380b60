package webrtc

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

// TestSmallLayerSelection: over WHEP, maxWidth at most 3/5 of the screen's width puts a session on the half-size
// layer, which the manager starts with the first such session and stops with the last; a wider maxWidth stays on
// the full layer; a malformed maxWidth is refused with 400 and starts nothing.
func TestSmallLayerSelection(t *testing.T) {
	var mu sync.Mutex
	var calls []bool
	m, err := New(Config{VideoMime: "video/VP8", ListenIP: "127.0.0.1", TCPPort: -1, AllowLoopback: true},
		Deps{
			Screen: func() Screen { return Screen{Width: 800, Height: 600} },
			SmallLayer: func(on bool) {
				mu.Lock()
				calls = append(calls, on)
				mu.Unlock()
			},
		})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv := httptest.NewServer(m.WHEPHandler())
	defer srv.Close()
	seen := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return append([]bool(nil), calls...)
	}
	post := func(query string) (int, string) {
		t.Helper()
		v, err := webrtctest.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.Close() })
		offer, err := v.Offer()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(srv.URL+"/whep"+query, "application/sdp", strings.NewReader(offer))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("Location")
	}
	del := func(loc string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+loc, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("DELETE %s: %d", loc, resp.StatusCode)
		}
	}

	for _, q := range []string{"?maxWidth=abc", "?maxWidth=-5", "?maxWidth=99999999"} {
		if code, _ := post(q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
	code, wide := post("?maxWidth=481")
	if code != http.StatusCreated {
		t.Fatalf("maxWidth=481: %d", code)
	}
	if st := m.Stats(); st.Sessions != 1 || st.SmallSessions != 0 || len(seen()) != 0 {
		t.Fatalf("maxWidth=481 of 800: stats %+v, layer calls %v", st, seen())
	}
	code, small1 := post("?maxWidth=320")
	if code != http.StatusCreated {
		t.Fatalf("maxWidth=320: %d", code)
	}
	_, small2 := post("?maxWidth=480") // a third of a 1080p grid: still the half-size layer
	if st, c := m.Stats(), seen(); st.SmallSessions != 2 || len(c) != 1 || !c[0] {
		t.Fatalf("two small sessions: stats %+v, layer calls %v", st, c)
	}
	del(small1)
	if c := seen(); len(c) != 1 {
		t.Fatalf("the layer stopped with a small session left: %v", c)
	}
	del(small2)
	if st, c := m.Stats(), seen(); st.SmallSessions != 0 || len(c) != 2 || c[1] {
		t.Fatalf("after the last small session: stats %+v, layer calls %v", st, c)
	}

	// Only small sessions: the full-size encoder is not fed; a full-size session turns it back on.
	_, small3 := post("?maxWidth=320")
	if !m.FullSizeWanted() {
		t.Error("full size not wanted while a full-size session exists")
	}
	del(wide)
	if m.FullSizeWanted() {
		t.Error("full size wanted with only a small session")
	}
	post("")
	if !m.FullSizeWanted() {
		t.Error("full size not wanted after a full-size session arrived")
	}
	del(small3)
	if !m.FullSizeWanted() {
		t.Error("full size not wanted without small sessions")
	}
}
