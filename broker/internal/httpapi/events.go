package httpapi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/loco-cluster/loco/broker/internal/registry"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// AppendEvent appends one registry event as an SSE frame: "id", "event: instance" and one line of JSON data.
func AppendEvent(dst []byte, ev *registry.Event) []byte {
	dst = appendFrameHead(dst, ev.Seq, ev.Type)
	dst = append(dst, ev.InstanceJSON()...)
	return append(dst, frameTail...)
}

// appendFrameHead appends an SSE frame up to the instance JSON; frameTail ends it.
func appendFrameHead(dst []byte, seq uint64, t locov1.EventType) []byte {
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, "\nevent: instance\ndata: "...)
	return registry.AppendJSONHead(dst, seq, t)
}

const frameTail = "}\n\n"

// sendBuffer is the kernel send buffer of an SSE connection (Linux doubles it): enough for 2.5 MB/s at 100 ms round
// trip, the health of about 2,000 instances a second.
const sendBuffer = 128 << 10

// groupSize is how many events go into one write to a client: 2*groupSize+1 pieces, which fit the 32 iovecs that
// the poller keeps per connection after its first writev (one more would double them).
const groupSize = 15

// frameRoom is the scratch room for one frame's head and tail (about 100 bytes).
const frameRoom = 112

// events streams registry changes as Server-Sent Events (docs/api.md). Each client follows a registry Feed and is
// written to at most once per EventInterval: each write carries the changes since the previous one, where a newer
// health-only update of an instance has replaced the older, so a client that cannot keep up gets the latest state of
// every instance rather than a growing backlog. A client that takes nothing for WriteTimeout, or falls more than
// EventBuffer changes behind, is dropped; EventSource reconnects and gets a new snapshot.
//
// Nothing is copied per client: each instance is encoded once and written from the shared bytes with writev on the
// hijacked connection, which a goroutine of its own then serves, so that net/http's per-request state (buffers, the
// request, a deep stack) is not kept for the life of the stream. Where hijacking is not possible (HTTP/2) the stream
// is written through the ResponseWriter. A hijacked stream ends with the registry (its feed closes) or at the first
// write that fails after the client went away (an event or a ping).
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if r.Method == http.MethodHead { // the mux routes HEAD to GET handlers: headers only, no stream
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	latest, feed := s.reg.Follow(s.cfg.EventBuffer)
	out, err := startSSE(w, s.cfg.WriteTimeout)
	if err != nil {
		feed.Close()
		return nil // the client is gone
	}
	st := &sseStream{s: s, feed: feed, out: out, remote: r.RemoteAddr}
	if out.conn != nil {
		go st.run(context.Background(), latest)
		return nil
	}
	st.run(r.Context(), latest)
	return nil
}

// sseStream is one client's event stream.
type sseStream struct {
	s      *Server
	feed   *registry.Feed
	out    *sseOut
	remote string
}

// run writes the snapshot, then the feed, until ctx ends, the feed ends or a write fails.
func (st *sseStream) run(ctx context.Context, latest []*registry.Event) {
	feed, out, cfg := st.feed, st.out, st.s.cfg
	defer feed.Close()
	defer out.close()
	out.text("retry: 1000\n\n")
	for i, ev := range latest {
		out.frame(feed.Start(), locov1.EventType_EVENT_TYPE_SNAPSHOT, ev.InstanceJSON())
		latest[i] = nil // written: the snapshot goes as the write proceeds
		if out.full() {
			if err := out.flush(); err != nil {
				st.failed(err)
				return
			}
		}
	}
	latest = nil
	if err := out.flush(); err != nil {
		st.failed(err)
		return
	}
	ping := time.NewTicker(cfg.Ping)
	defer ping.Stop()
	pause := time.NewTimer(cfg.EventInterval)
	defer pause.Stop()
	var group [groupSize]*registry.Event
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			out.text(": ping\n\n")
		case <-feed.Ready():
			// Take the changes a group at a time: those not taken yet can still be replaced by newer ones.
			for {
				evs, ok := feed.Next(group[:0], groupSize)
				for _, ev := range evs {
					out.frame(ev.Seq, ev.Type, ev.InstanceJSON())
				}
				clear(group[:])
				if !ok {
					if feed.Dropped() {
						st.s.log.Info("SSE client fell behind and was dropped", "remote", st.remote)
					}
					_ = out.flush()
					return
				}
				if len(evs) < groupSize {
					break
				}
				if err := out.flush(); err != nil {
					st.failed(err)
					return
				}
			}
		}
		if err := out.flush(); err != nil {
			st.failed(err)
			return
		}
		// Let changes gather (and health updates of one instance replace each other) before the next write.
		pause.Reset(cfg.EventInterval)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// failed reports a write that failed: a timeout means the client fell behind; anything else, that it left.
func (st *sseStream) failed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		st.feed.CutOff()
		st.s.log.Info("SSE client fell behind and was dropped", "remote", st.remote, "err", err)
	}
}

// sseOut writes SSE frames to one client a group at a time: each frame's head (id, event name and the JSON up to the
// instance) is rendered into a small scratch buffer, and the instance JSON is written from the shared encoding. The
// group's buffers are borrowed from a pool while there is something to write, so an idle client holds none.
type sseOut struct {
	conn    net.Conn // the hijacked connection; nil when writing through w
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration

	g    *group
	open bool // the last frame still needs frameTail
	err  error
}

// group is one write's worth of frames.
type group struct {
	scratch []byte
	ends    []int       // ends[i]: where the scratch piece before the i-th body ends
	bufs    net.Buffers // each frame's scratch piece (filled in by flush) and body (shared, never modified)
}

var groupPool = sync.Pool{New: func() any {
	return &group{scratch: make([]byte, 0, groupSize*frameRoom), ends: make([]int, 0, groupSize),
		bufs: make(net.Buffers, 0, 2*groupSize+1)}
}}

// startSSE sends the response header, on a hijacked connection when the server allows it.
func startSSE(w http.ResponseWriter, timeout time.Duration) (*sseOut, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	o := &sseOut{w: w, rc: rc, timeout: timeout}
	conn, brw, err := rc.Hijack()
	if err != nil {
		w.WriteHeader(http.StatusOK)
		return o, nil
	}
	_ = brw // nothing buffered is read or written: the stream is all there is on this connection
	// Keep nothing of net/http's: the response holds the connection's buffers.
	o.conn, o.w, o.rc = conn, nil, nil
	if tc, ok := conn.(*net.TCPConn); ok {
		// A client that reads slowly lags in the feed, where newer updates replace older ones, rather than behind
		// megabytes of stale frames in the kernel's send buffer.
		_ = tc.SetWriteBuffer(sendBuffer)
	}
	// Without Content-Length or chunking the body runs until the connection closes, as the SSE specification
	// recommends for HTTP/1.1; intermediaries see "Connection: close".
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	h.Set("Connection", "close")
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = h.Write(&head)
	head.WriteString("\r\n")
	o.text(head.String())
	if err := o.flush(); err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

func (o *sseOut) close() {
	if o.conn != nil {
		_ = o.conn.Close()
	}
}

func (o *sseOut) group() *group {
	if o.g == nil {
		o.g = groupPool.Get().(*group)
	}
	return o.g
}

// text adds raw stream text (a comment or a retry field).
func (o *sseOut) text(s string) {
	o.endFrame()
	g := o.group()
	g.scratch = append(g.scratch, s...)
}

// frame adds one event: its head in scratch, then body (shared).
func (o *sseOut) frame(seq uint64, t locov1.EventType, body []byte) {
	o.endFrame()
	g := o.group()
	g.scratch = appendFrameHead(g.scratch, seq, t)
	g.ends = append(g.ends, len(g.scratch))
	g.bufs = append(g.bufs, nil, body)
	o.open = true
}

func (o *sseOut) endFrame() {
	if o.open {
		o.g.scratch = append(o.g.scratch, frameTail...)
		o.open = false
	}
}

// full reports a group ready to be written.
func (o *sseOut) full() bool { return o.g != nil && len(o.g.ends) >= groupSize }

// flush writes what was added and gives the group back. After the first error it writes nothing and keeps
// returning that error.
func (o *sseOut) flush() error {
	o.endFrame()
	g := o.g
	if g == nil {
		return o.err
	}
	o.g = nil
	defer g.release()
	if o.err != nil || len(g.scratch) == 0 {
		return o.err
	}
	bufs := g.bufs
	from := 0
	for i, end := range g.ends {
		bufs[2*i] = g.scratch[from:end]
		from = end
	}
	if from < len(g.scratch) {
		bufs = append(bufs, g.scratch[from:])
	}
	g.bufs = bufs
	if o.conn != nil {
		// writev: the kernel copies the shared bytes once. WriteTo consumes bufs, so after a timeout bufs is what is
		// left: a client is dropped only when it took nothing for a whole WriteTimeout.
		for {
			_ = o.conn.SetWriteDeadline(time.Now().Add(o.timeout))
			n, err := bufs.WriteTo(o.conn)
			if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				o.err = err
				return err
			}
		}
	}
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.timeout))
	for _, b := range bufs {
		if _, o.err = o.w.Write(b); o.err != nil {
			return o.err
		}
	}
	o.err = o.rc.Flush()
	return o.err
}

// release empties g (dropping its references to shared bytes) and returns it to the pool.
func (g *group) release() {
	if cap(g.scratch) > 4*groupSize*frameRoom || cap(g.ends) > 4*groupSize { // grown by a huge group: drop it
		return
	}
	g.scratch, g.ends = g.scratch[:0], g.ends[:0]
	clear(g.bufs[:cap(g.bufs)])
	g.bufs = g.bufs[:0]
	groupPool.Put(g)
}
