package httpapi

import (
	"bufio"
	"net/http"
	"strconv"
	"time"

	"github.com/loco-cluster/loco/broker/internal/registry"
)

// WriteEvent writes one registry event as an SSE frame: "id", "event: instance" and one line of JSON data.
func WriteEvent(w *bufio.Writer, ev *registry.Event) error {
	_, _ = w.WriteString("id: ")
	_, _ = w.WriteString(strconv.FormatUint(ev.Seq, 10))
	_, _ = w.WriteString("\nevent: instance\ndata: ")
	_, _ = w.Write(ev.JSON())
	_, err := w.WriteString("\n\n")
	return err
}

// events streams registry events as Server-Sent Events. A client that falls behind by more than EventBuffer events
// (or cannot take a write for WriteTimeout) is disconnected; EventSource reconnects and gets a new snapshot.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	snap, sub := s.reg.Subscribe(s.cfg.EventBuffer)
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	// Every batch of writes gets a fresh deadline: a client that cannot take it in time is dropped.
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)) }
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	deadline()
	_, _ = bw.WriteString("retry: 1000\n\n")
	for _, ev := range snap {
		if err := WriteEvent(bw, ev); err != nil {
			return nil
		}
	}
	if err := flush(); err != nil {
		return nil
	}
	ping := time.NewTicker(s.cfg.Ping)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-ping.C:
			deadline()
			_, _ = bw.WriteString(": ping\n\n")
		case ev, ok := <-sub.C():
			if !ok {
				if sub.Dropped() {
					s.log.Info("SSE client fell behind and was dropped", "remote", r.RemoteAddr)
				}
				_ = flush()
				return nil
			}
			deadline()
			_ = WriteEvent(bw, ev)
			// Batch whatever else is already queued into the same flush.
			for n := len(sub.C()); n > 0; n-- {
				more, ok := <-sub.C()
				if !ok {
					break
				}
				_ = WriteEvent(bw, more)
			}
		}
		if err := flush(); err != nil {
			return nil
		}
	}
}
