// Package webui serves the browser UI, embedded into the broker binary with go:embed.
//
// The UI is built by Vite in web/ (web/dist). go:embed cannot reach outside the broker module, so the web build
// copies web/dist/* into broker/internal/webui/dist/ (ignored by git except dist/.gitkeep). When dist/ holds no
// index.html, as on a fresh clone built without Node, the small placeholder.html in this folder is served at /
// instead, so `go build ./...` always works.
//
// Files under /assets/ (Vite's content-hashed names) are cached for a year; everything else is revalidated. Unknown
// paths without a file extension get index.html, so client-side routes survive a reload.
package webui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

//go:embed placeholder.html
var placeholder []byte

// Handler serves the embedded UI.
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return handler(sub)
}

// Built reports whether a real UI build is embedded (rather than the placeholder).
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

func handler(files fs.FS) http.Handler {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		index = placeholder
	}
	fileServer := http.FileServerFS(files)
	start := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if p == "" || p == "index.html" {
			serveIndex(w, r, index, start)
			return
		}
		if st, err := fs.Stat(files, p); err == nil && !st.IsDir() && !strings.HasPrefix(path.Base(p), ".") {
			if strings.HasPrefix(p, "assets/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			} else {
				w.Header().Set("Cache-Control", "no-cache")
			}
			fileServer.ServeHTTP(w, r)
			return
		}
		if path.Ext(p) == "" {
			serveIndex(w, r, index, start)
			return
		}
		http.NotFound(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, index []byte, mod time.Time) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "index.html", mod, bytes.NewReader(index))
}
