package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/loco-cluster/loco/broker/internal/registry"

	"github.com/loco-cluster/loco/broker/internal/signaling"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

func (s *Server) listInstances(w http.ResponseWriter, _ *http.Request) error {
	return s.writeProto(w, http.StatusOK, &locov1.ListInstancesResponse{Instances: s.reg.List()})
}

func (s *Server) getInstance(w http.ResponseWriter, r *http.Request) error {
	in, ok := s.reg.Get(r.PathValue("id"))
	if !ok {
		return errUnknownInstance
	}
	return s.writeProto(w, http.StatusOK, in)
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok := s.reg.Get(id); !ok {
		return errUnknownInstance
	}
	var body struct {
		ViewerID *string `json:"viewerId"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	if err := dec.Decode(&body); err != nil || body.ViewerID == nil {
		return httpError(http.StatusBadRequest, `body must be {"viewerId":"…"} (empty string releases control)`)
	}
	c, ok := s.agents.Conn(id)
	if !ok {
		return fmt.Errorf("control %q: %w", id, signaling.ErrNotAttached)
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.RequestTimeout)
	defer cancel()
	v, err := c.Control(ctx, *body.ViewerID)
	if err != nil {
		return err
	}
	out := struct {
		Controller json.RawMessage `json:"controller"`
	}{Controller: json.RawMessage("null")}
	if v != nil {
		b, err := jsonMessage(v)
		if err != nil {
			return err
		}
		out.Controller = b
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(out)
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok := s.reg.Get(id); !ok {
		return errUnknownInstance
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.RequestTimeout)
	defer cancel()
	action, err := s.restarter.Manual(ctx, id, "requested over the HTTP API")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	return json.NewEncoder(w).Encode(map[string]string{"action": action})
}

func (s *Server) screenshot(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, ok := s.reg.Get(id); !ok {
		return errUnknownInstance
	}
	c, ok := s.agents.Conn(id)
	if !ok {
		return fmt.Errorf("screenshot %q: %w", id, signaling.ErrNotAttached)
	}
	ctx, cancel := contextWithTimeout(r, s.cfg.RequestTimeout)
	defer cancel()
	res, err := c.Screenshot(ctx)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	if t := res.GetCapturedAt(); t != nil {
		w.Header().Set("Last-Modified", t.AsTime().UTC().Format(http.TimeFormat))
		w.Header().Set("X-Loco-Captured-At", t.AsTime().UTC().Format(time.RFC3339Nano))
	}
	_, _ = w.Write(res.GetPng())
	return nil
}

func contextWithTimeout(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

func jsonMessage(m proto.Message) (json.RawMessage, error) {
	b, err := registry.JSONMarshal.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", m, err)
	}
	return b, nil
}
