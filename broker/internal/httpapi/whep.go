package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/loco-cluster/loco/broker/internal/signaling"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// maxFragBytes bounds a trickle-ICE PATCH body.
const maxFragBytes = 16 << 10

func sessionURL(id, sid string) string {
	return "/api/instances/" + url.PathEscape(id) + "/whep/sessions/" + url.PathEscape(sid)
}

// readBody reads at most limit bytes; more is a 413.
func readBody(r *http.Request, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	if err != nil {
		return nil, httpError(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("body over %d bytes: %w", limit, signaling.ErrOfferTooLarge)
	}
	return b, nil
}

func hasContentType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == want
}

func (s *Server) whepOptions(w http.ResponseWriter, r *http.Request) error {
	if _, ok := s.reg.Get(r.PathValue("id")); !ok {
		return errUnknownInstance
	}
	w.Header().Set("Accept-Post", "application/sdp")
	w.Header().Set("Allow", "OPTIONS, POST")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) whepOffer(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok := s.reg.Get(id); !ok {
		return errUnknownInstance
	}
	if !hasContentType(r, "application/sdp") {
		return httpError(http.StatusUnsupportedMediaType, "Content-Type must be application/sdp")
	}
	body, err := readBody(r, s.signaling.MaxOfferBytes())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	role := locov1.Role_ROLE_SPECTATOR
	switch q.Get("role") {
	case "", "spectator":
	case "controller":
		role = locov1.Role_ROLE_CONTROLLER
	default:
		return httpError(http.StatusBadRequest, "role must be controller or spectator")
	}
	var maxWidth uint64
	if v := q.Get("maxWidth"); v != "" {
		if maxWidth, err = strconv.ParseUint(v, 10, 16); err != nil {
			return httpError(http.StatusBadRequest, "maxWidth must be a width in pixels")
		}
	}
	if len(q.Get("viewer")) > 128 || len(q.Get("name")) > 128 {
		return httpError(http.StatusBadRequest, "viewer and name are limited to 128 bytes")
	}
	var viewer *locov1.Viewer
	if q.Get("viewer") != "" || q.Get("name") != "" {
		viewer = &locov1.Viewer{Id: q.Get("viewer"), Name: q.Get("name")}
	}
	ans, err := s.signaling.Offer(r.Context(), id, signaling.Offer{
		SDP: string(body), Viewer: viewer, Role: role, MaxWidth: uint32(maxWidth),
	})
	if err != nil {
		return err
	}
	granted := "spectator"
	if ans.Role == locov1.Role_ROLE_CONTROLLER {
		granted = "controller"
	}
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", sessionURL(id, ans.SessionID))
	h.Set("X-Loco-Role", granted)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, ans.SDP)
	return nil
}

func (s *Server) whepPatch(w http.ResponseWriter, r *http.Request) error {
	id, sid := r.PathValue("id"), r.PathValue("sid")
	if _, ok := s.reg.Get(id); !ok {
		return errUnknownInstance
	}
	if !hasContentType(r, "application/trickle-ice-sdpfrag") {
		return httpError(http.StatusUnsupportedMediaType, "Content-Type must be application/trickle-ice-sdpfrag")
	}
	body, err := readBody(r, maxFragBytes)
	if err != nil {
		if errors.Is(err, signaling.ErrOfferTooLarge) {
			return httpError(http.StatusRequestEntityTooLarge, "fragment larger than %d bytes", maxFragBytes)
		}
		return err
	}
	if err := s.signaling.Trickle(r.Context(), id, sid, string(body)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) whepDelete(w http.ResponseWriter, r *http.Request) error {
	id, sid := r.PathValue("id"), r.PathValue("sid")
	if err := s.signaling.Close(r.Context(), id, sid); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "session closed\n")
	return nil
}
