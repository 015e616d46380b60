package vncsynth

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Handler serves the server's journal and controls over HTTP, for tests that are not written in Go:
//
//	GET  /events?since=N        input events with seq > N (JSON array of Event)
//	GET  /paints?since=N        paint records of frames > N (JSON array of Paint)
//	GET  /status                {"frame":..,"width":..,"height":..,"clients":..,"scene":..,"label":..}
//	POST /mode?width=W&height=H change the mode (DesktopSize to clients)
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		since, err := queryInt(r, "since", 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, s.Events(uint64(max(since, 0))))
	})
	mux.HandleFunc("GET /paints", func(w http.ResponseWriter, r *http.Request) {
		since, err := queryInt(r, "since", -1)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, s.Paints(since))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		wd, ht := s.Mode()
		writeJSON(w, map[string]any{"frame": s.Frame(), "width": wd, "height": ht, "clients": s.Clients(),
			"scene": s.cfg.Scene, "label": s.cfg.Label, "bpp": s.cfg.BPP})
	})
	mux.HandleFunc("POST /mode", func(w http.ResponseWriter, r *http.Request) {
		wd, err1 := queryInt(r, "width", 0)
		ht, err2 := queryInt(r, "height", 0)
		if err1 != nil || err2 != nil {
			http.Error(w, "width and height must be integers", http.StatusBadRequest)
			return
		}
		if err := s.SetMode(int(wd), int(ht)); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func queryInt(r *http.Request, name string, def int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
