package webrtc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// maxOfferBytes bounds a WHEP offer body, as the broker does.
const maxOfferBytes = 64 << 10

// WHEPHandler serves WHEP on the agent itself (--direct-whep): POST /whep with an SDP offer answers 201 with the SDP
// answer and a Location of /whep/sessions/{id}; DELETE of that URL ends the session; PATCH (trickle ICE) is 405
// because answers are complete. Query parameters as on the broker: role=controller|spectator, viewer, name,
// maxWidth.
func (m *Manager) WHEPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whep", m.serveOffer)
	mux.HandleFunc("DELETE /whep/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := m.CloseSession(r.PathValue("id"), "WHEP DELETE"); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("PATCH /whep/sessions/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", "DELETE")
		http.Error(w, "trickle ICE is not supported: answers carry every candidate", http.StatusMethodNotAllowed)
	})
	return mux
}

func (m *Manager) serveOffer(w http.ResponseWriter, r *http.Request) {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/sdp" {
		http.Error(w, "want Content-Type: application/sdp", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxOfferBytes+1))
	if err != nil {
		http.Error(w, "reading offer: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxOfferBytes {
		http.Error(w, "offer larger than 64 KiB", http.StatusRequestEntityTooLarge)
		return
	}
	q := r.URL.Query()
	viewer := Viewer{ID: q.Get("viewer"), Name: q.Get("name")}
	id := newID()
	if viewer.ID == "" {
		viewer.ID = "anon-" + id
	}
	maxWidth := 0
	if v := q.Get("maxWidth"); v != "" {
		if maxWidth, err = strconv.Atoi(v); err != nil || maxWidth < 0 || maxWidth > 65535 {
			http.Error(w, "maxWidth must be a width in pixels", http.StatusBadRequest)
			return
		}
	}
	ans, err := m.Offer(r.Context(), OfferRequest{SessionID: id, SDP: string(body), Viewer: viewer,
		WantControl: q.Get("role") == "controller", MaxWidth: maxWidth})
	switch {
	case errors.Is(err, ErrBadOffer):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case errors.Is(err, ErrTooManyViewers), errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "5")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	role := "spectator"
	if ans.Controller {
		role = "controller"
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/whep/sessions/"+id)
	w.Header().Set("X-Loco-Role", role)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, ans.SDP)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
