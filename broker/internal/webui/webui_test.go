package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

func TestPlaceholderWhenNotBuilt(t *testing.T) {
	h := handler(fstest.MapFS{".gitkeep": {}})
	for _, p := range []string{"/", "/index.html", "/focus/loco-1"} {
		r := get(h, p)
		if r.Code != 200 || !strings.Contains(r.Body.String(), "built without the web UI") {
			t.Errorf("%s: %d, placeholder expected", p, r.Code)
		}
	}
	if r := get(h, "/.gitkeep"); r.Code != 404 {
		t.Errorf("hidden file served: %d", r.Code)
	}
}

func TestBuiltUI(t *testing.T) {
	h := handler(fstest.MapFS{
		"index.html":         {Data: []byte("<html>app</html>")},
		"assets/app-abc1.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
	})
	if r := get(h, "/"); r.Body.String() != "<html>app</html>" || r.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("index: %q %q", r.Body.String(), r.Header().Get("Cache-Control"))
	}
	r := get(h, "/assets/app-abc1.js")
	if r.Code != 200 || !strings.Contains(r.Header().Get("Cache-Control"), "immutable") ||
		!strings.Contains(r.Header().Get("Content-Type"), "javascript") {
		t.Errorf("asset: %d %v", r.Code, r.Header())
	}
	if r := get(h, "/vr"); r.Body.String() != "<html>app</html>" {
		t.Error("client-side route does not get index.html")
	}
	if r := get(h, "/assets/missing.js"); r.Code != 404 {
		t.Errorf("missing asset: %d", r.Code)
	}
	if r := get(h, "/../../etc/passwd"); r.Code == 200 && !strings.Contains(r.Body.String(), "app") {
		t.Error("path escape")
	}
}

func TestEmbeddedHandlerServes(t *testing.T) {
	r := get(Handler(), "/")
	if r.Code != 200 || !strings.Contains(r.Header().Get("Content-Type"), "text/html") {
		t.Errorf("embedded UI: %d %q (built=%v)", r.Code, r.Header().Get("Content-Type"), Built())
	}
}
