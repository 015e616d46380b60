package httpapi

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	pathpkg "path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
	"github.com/loco-cluster/loco/broker/internal/discovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	"github.com/loco-cluster/loco/broker/internal/signaling"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// noAgents has no agent attached.
type noAgents struct{}

func (noAgents) Conn(string) (*agentlink.Conn, bool) { return nil, false }

func testServer() http.Handler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(registry.Config{Log: log})
	reg.Upsert(discovery.Target{ID: "loco-0", Workload: &locov1.Workload{Ready: true}})
	sig := signaling.New(signaling.Config{}, reg, noAgents{}, log, nil)
	return New(Config{}, reg, noAgents{}, sig, nil, nil, prometheus.NewRegistry(), log).Handler()
}

const offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n" +
	"c=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\na=recvonly\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz\r\n"

// FuzzWHEP throws arbitrary methods, paths, queries, content types and bodies at the WHEP endpoints: the handler
// never panics, answers with a status docs/api.md allows, and explains every error in one plain-text line.
func FuzzWHEP(f *testing.F) {
	f.Add("POST", "loco-0", "", "application/sdp", []byte(offer))
	f.Add("POST", "loco-0", "role=controller&viewer=v&name=n&maxWidth=320", "application/sdp; charset=utf-8", []byte(offer))
	f.Add("POST", "nope", "", "application/sdp", []byte(offer))
	f.Add("POST", "loco-0", "maxWidth=-1", "application/sdp", []byte("v=0\r\n"))
	f.Add("POST", "loco-0", "", "text/plain", []byte{0xff, 0xfe, 0})
	f.Add("PATCH", "loco-0/whep/sessions/0123456789abcdef0123456789abcdef", "", "application/trickle-ice-sdpfrag", []byte("a=ice-ufrag:x\r\n"))
	f.Add("DELETE", "loco-0/whep/sessions/%2e%2e", "", "", []byte(nil))
	f.Add("OPTIONS", "loco-0", "", "", []byte(nil))
	h := testServer()
	allowed := map[int]bool{200: true, 201: true, 204: true, 400: true, 404: true, 405: true, 413: true, 415: true, 503: true}
	f.Fuzz(func(t *testing.T, method, id, query, ctype string, body []byte) {
		if !utf8.ValidString(method) || strings.ContainsAny(method, " \t\r\n") || method == "" {
			return
		}
		path := "/api/instances/" + id
		if !strings.Contains(id, "/") {
			path += "/whep"
		}
		req, err := http.NewRequest(method, "http://broker"+path+"?"+query, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 301 || rec.Code == 307 || rec.Code == 308 {
			if pathpkg.Clean(req.URL.Path) == req.URL.Path {
				t.Fatalf("redirect for the clean path %q", req.URL.Path)
			}
			return // the mux sends unclean paths to their clean form
		}
		if !allowed[rec.Code] {
			t.Fatalf("%s %s: status %d %q", method, path, rec.Code, rec.Body.String())
		}
		if rec.Code == 201 {
			t.Fatalf("%s %s: 201 without an agent", method, path)
		}
		if rec.Code >= 400 && rec.Code != 405 {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("%d with Content-Type %q", rec.Code, ct)
			}
			if r := strings.TrimSuffix(rec.Body.String(), "\n"); r == "" || strings.Contains(r, "\n") {
				t.Fatalf("%d with reason %q", rec.Code, rec.Body.String())
			}
		}
		if rec.Code == 503 && rec.Header().Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		if rec.Code == 413 && len(body) <= 64<<10 && method == "POST" {
			t.Fatalf("413 for %d bytes", len(body))
		}
	})
}

// FuzzWriteEvent encodes instances with arbitrary strings as SSE frames: each is exactly one event whose data is
// one line that decodes back to the same message.
func FuzzWriteEvent(f *testing.F) {
	f.Add("loco-0", "agent not attached", "Ann", int32(3), uint64(42))
	f.Add("a\nb", "line1\r\nline2\n\ndata: x", "\x00", int32(-1), uint64(0))
	f.Add("é✓", "\u2028\u2029", "</script>", int32(1<<30), uint64(1<<63))
	f.Add("\xff", "bad utf8 \xc3", "", int32(0), uint64(7))
	f.Fuzz(func(t *testing.T, id, reason, name string, ord int32, seq uint64) {
		in := &locov1.Instance{Id: id, Ordinal: ord, Reason: reason, State: locov1.InstanceState_INSTANCE_STATE_DEGRADED,
			Controller: &locov1.Viewer{Id: name, Name: name}, Health: &locov1.HealthReport{Reasons: []string{reason, name}}}
		ev := &registry.Event{Seq: seq, Type: locov1.EventType_EVENT_TYPE_UPDATED, Instance: in}
		frame := string(AppendEvent(nil, ev))
		if !strings.HasSuffix(frame, "\n\n") || strings.Count(frame, "\n\n") != 1 {
			t.Fatalf("not exactly one SSE frame: %q", frame)
		}
		lines := strings.Split(strings.TrimSuffix(frame, "\n\n"), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "id: ") || lines[1] != "event: instance" || !strings.HasPrefix(lines[2], "data: ") {
			t.Fatalf("frame lines %q", lines)
		}
		if strings.ContainsRune(frame, '\r') {
			t.Fatalf("carriage return in frame %q", frame)
		}
		var got locov1.WatchInstancesResponse
		if err := protojson.Unmarshal([]byte(lines[2][6:]), &got); err != nil {
			t.Fatalf("data does not decode: %v", err)
		}
		if utf8.ValidString(id) && utf8.ValidString(reason) && utf8.ValidString(name) && !proto.Equal(&got, ev.Proto()) {
			t.Fatalf("round trip changed the event:\n got %v\nwant %v", &got, ev.Proto())
		}
	})
}
