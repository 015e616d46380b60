// Package httpapi is the broker's HTTP surface (docs/api.md): the instance list, Server-Sent Events of registry
// changes, WHEP signaling, control hand-over, restart and screenshot relays, /healthz, /metrics and the embedded web
// UI. Handlers return errors; one function maps them to status codes with a short plain-text reason.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/proto"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
	"github.com/loco-cluster/loco/broker/internal/registry"
	"github.com/loco-cluster/loco/broker/internal/signaling"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Registry is what the API reads instances and events from.
type Registry interface {
	List() []*locov1.Instance
	Get(id string) (*locov1.Instance, bool)
	Follow(limit int) ([]*registry.Event, *registry.Feed)
}

// Agents finds an instance's Attach stream.
type Agents interface {
	Conn(id string) (*agentlink.Conn, bool)
}

// Restarter restarts an instance at an operator's request.
type Restarter interface {
	Manual(ctx context.Context, id, reason string) (string, error)
}

// Config tunes the API.
type Config struct {
	// RequestTimeout bounds control, restart and screenshot relays. Default 10s.
	RequestTimeout time.Duration
	// EventBuffer is how many changes an SSE client may fall behind before it is dropped, counted after newer
	// health-only updates of an instance replaced older ones (so about one per instance plus its state changes).
	// Default 4096.
	EventBuffer int
	// EventInterval is the least time between two writes of changes to one SSE client: changes in between are sent
	// together. Default 100ms.
	EventInterval time.Duration
	// Ping is the interval of SSE keep-alive comments. Default 15s.
	Ping time.Duration
	// WriteTimeout: an SSE client that takes no data for this long is dropped. Default 10s.
	WriteTimeout time.Duration
}

func (c *Config) defaults() {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 4096
	}
	if c.EventInterval <= 0 {
		c.EventInterval = 100 * time.Millisecond
	}
	if c.Ping <= 0 {
		c.Ping = 15 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
}

// Server holds the handlers' dependencies.
type Server struct {
	cfg       Config
	reg       Registry
	agents    Agents
	signaling *signaling.Service
	restarter Restarter
	ui        http.Handler
	gatherer  prometheus.Gatherer
	log       *slog.Logger
}

// New creates the server. ui serves the web UI at /; gatherer feeds /metrics.
func New(cfg Config, reg Registry, agents Agents, sig *signaling.Service, restarter Restarter, ui http.Handler,
	gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	cfg.defaults()
	return &Server{cfg: cfg, reg: reg, agents: agents, signaling: sig, restarter: restarter, ui: ui,
		gatherer: gatherer, log: log}
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/instances", s.handle(s.listInstances))
	mux.Handle("GET /api/instances/{id}", s.handle(s.getInstance))
	mux.Handle("GET /api/events", s.handle(s.events))
	mux.Handle("POST /api/instances/{id}/whep", s.handle(s.whepOffer))
	mux.Handle("OPTIONS /api/instances/{id}/whep", s.handle(s.whepOptions))
	mux.Handle("PATCH /api/instances/{id}/whep/sessions/{sid}", s.handle(s.whepPatch))
	mux.Handle("DELETE /api/instances/{id}/whep/sessions/{sid}", s.handle(s.whepDelete))
	mux.Handle("POST /api/instances/{id}/control", s.handle(s.control))
	mux.Handle("POST /api/instances/{id}/restart", s.handle(s.restart))
	mux.Handle("GET /api/instances/{id}/screenshot", s.handle(s.screenshot))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	// GET on the WHEP resources would otherwise fall through to the UI.
	mux.Handle("GET /api/instances/{id}/whep", methodNotAllowed("OPTIONS, POST"))
	mux.Handle("GET /api/instances/{id}/whep/sessions/{sid}", methodNotAllowed("PATCH, DELETE"))
	notFound := s.handle(func(http.ResponseWriter, *http.Request) error {
		return httpError(http.StatusNotFound, "no such API endpoint")
	})
	mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.ui == nil || r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
			notFound.ServeHTTP(w, r)
			return
		}
		s.ui.ServeHTTP(w, r)
	}))
	return mux
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
}

// statusError is an error with an HTTP status.
type statusError struct {
	code   int
	reason string
	header http.Header
}

func (e *statusError) Error() string { return fmt.Sprintf("%d %s", e.code, e.reason) }

func httpError(code int, format string, args ...any) error {
	return &statusError{code: code, reason: fmt.Sprintf(format, args...)}
}

// handle adapts an error-returning handler.
func (s *Server) handle(f func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := f(w, r)
		if err == nil {
			return
		}
		se := toStatus(err)
		if se.code >= 500 && se.code != http.StatusServiceUnavailable && se.code != http.StatusGatewayTimeout {
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		for k, v := range se.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(se.code)
		_, _ = fmt.Fprintln(w, se.reason)
	})
}

// toStatus maps an error to a status code and reason.
func toStatus(err error) *statusError {
	var se *statusError
	if errors.As(err, &se) {
		return se
	}
	var ae *agentlink.AgentError
	if errors.As(err, &ae) {
		code := http.StatusInternalServerError
		switch ae.Code {
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT:
			code = http.StatusBadRequest
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_NOT_FOUND:
			code = http.StatusNotFound
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_UNAVAILABLE:
			code = http.StatusServiceUnavailable
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION:
			code = http.StatusConflict
		}
		return &statusError{code: code, reason: "agent: " + ae.Message}
	}
	retry := http.Header{"Retry-After": []string{"2"}}
	switch {
	case errors.Is(err, signaling.ErrUnknownInstance), errors.Is(err, errUnknownInstance):
		return &statusError{code: http.StatusNotFound, reason: "unknown instance"}
	case errors.Is(err, signaling.ErrUnknownSession):
		return &statusError{code: http.StatusNotFound, reason: "unknown session"}
	case errors.Is(err, signaling.ErrNotAttached), errors.Is(err, agentlink.ErrDetached):
		return &statusError{code: http.StatusServiceUnavailable, reason: "the instance's agent is not attached",
			header: retry}
	case errors.Is(err, signaling.ErrBadOffer):
		return &statusError{code: http.StatusBadRequest, reason: err.Error()}
	case errors.Is(err, signaling.ErrOfferTooLarge):
		return &statusError{code: http.StatusRequestEntityTooLarge, reason: "SDP offer larger than 64 KiB"}
	case errors.Is(err, signaling.ErrAnswerTimeout), errors.Is(err, context.DeadlineExceeded):
		return &statusError{code: http.StatusGatewayTimeout, reason: "the agent did not answer in time"}
	case errors.Is(err, signaling.ErrBadAnswer):
		return &statusError{code: http.StatusBadGateway, reason: "the agent sent an empty answer"}
	}
	return &statusError{code: http.StatusInternalServerError, reason: "internal error"}
}

func (s *Server) writeProto(w http.ResponseWriter, code int, m proto.Message) error {
	b, err := registry.JSONMarshal.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %T: %w", m, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
	return nil
}
