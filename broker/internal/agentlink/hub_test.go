package agentlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// recorder is a Registry that records calls.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) { r.mu.Lock(); r.events = append(r.events, s); r.mu.Unlock() }
func (r *recorder) Attach(_ uint64, h *locov1.AgentHello) bool {
	r.add("attach " + h.GetInstanceId())
	return true
}
func (r *recorder) Detach(id string, _ uint64)                               { r.add("detach " + id) }
func (r *recorder) ReportHealth(id string, _ uint64, _ *locov1.HealthReport) { r.add("health " + id) }
func (r *recorder) SetController(id string, _ uint64, v *locov1.Viewer) {
	r.add("control " + id + " " + v.GetId())
}

func serve(t *testing.T) (*Hub, locov1.BrokerClient) {
	t.Helper()
	hub := NewHub(&recorder{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	gs := grpc.NewServer()
	locov1.RegisterBrokerServer(gs, hub)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return hub, locov1.NewBrokerClient(cc)
}

func hello(id string) *locov1.AgentMessage {
	return &locov1.AgentMessage{Kind: &locov1.AgentMessage_Hello{Hello: &locov1.AgentHello{InstanceId: id}}}
}

func attach(t *testing.T, ctx context.Context, c locov1.BrokerClient, first *locov1.AgentMessage) locov1.Broker_AttachClient {
	t.Helper()
	s, err := c.Attach(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(first); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitConn(t *testing.T, hub *Hub, id string, gen uint64) *Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, ok := hub.Conn(id); ok && (gen == 0 || c.Gen() == gen) {
			return c
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no conn for %s", id)
	return nil
}

func TestAttachProtocol(t *testing.T) {
	hub, client := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("first message must be hello", func(t *testing.T) {
		s := attach(t, ctx, client, &locov1.AgentMessage{Kind: &locov1.AgentMessage_Health{Health: &locov1.HealthReport{}}})
		if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("got %v, want InvalidArgument", err)
		}
		s = attach(t, ctx, client, hello(""))
		if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("empty id: got %v, want InvalidArgument", err)
		}
	})

	t.Run("second attach replaces the first", func(t *testing.T) {
		first := attach(t, ctx, client, hello("a"))
		c1 := waitConn(t, hub, "a", 0)
		second := attach(t, ctx, client, hello("a"))
		c2 := waitConn(t, hub, "a", c1.Gen()+1)
		if _, err := first.Recv(); status.Code(err) != codes.Aborted {
			t.Errorf("replaced stream: %v, want Aborted", err)
		}
		// Requests go to the new stream; the reply is correlated by request id.
		go func() {
			m, err := second.Recv()
			if err != nil {
				return
			}
			ref := m.GetScreenshot().GetRequestId()
			_ = second.Send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Screenshot{Screenshot: &locov1.ScreenshotResult{RequestId: "other", Png: []byte("no")}}})
			_ = second.Send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Screenshot{Screenshot: &locov1.ScreenshotResult{RequestId: ref, Png: []byte("png")}}})
		}()
		res, err := c2.Screenshot(ctx)
		if err != nil || string(res.GetPng()) != "png" {
			t.Fatalf("screenshot through the new stream: %v %v", res, err)
		}
		if _, err := c1.Screenshot(ctx); !errors.Is(err, ErrDetached) {
			t.Errorf("request on the replaced stream: %v, want ErrDetached", err)
		}
	})

	t.Run("agent errors and detach fail pending requests", func(t *testing.T) {
		s := attach(t, ctx, client, hello("b"))
		c := waitConn(t, hub, "b", 0)
		go func() {
			m, err := s.Recv()
			if err != nil {
				return
			}
			_ = s.Send(&locov1.AgentMessage{Kind: &locov1.AgentMessage_Error{Error: &locov1.AgentError{
				Ref: m.GetRestart().GetRequestId(), Code: locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION, Message: "no qemu"}}})
			if _, err := s.Recv(); err == nil {
				_ = s.CloseSend()
			}
		}()
		var ae *AgentError
		if err := c.Restart(ctx, locov1.RestartKind_RESTART_KIND_RESTART_QEMU, "test"); !errors.As(err, &ae) ||
			ae.Code != locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION {
			t.Fatalf("restart: %v, want the agent's FAILED_PRECONDITION", err)
		}
		if _, err := c.Screenshot(ctx); !errors.Is(err, ErrDetached) {
			t.Errorf("request when the agent hangs up: %v, want ErrDetached", err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		s2 := attach(t, ctx, client, hello("c"))
		defer s2.CloseSend()
		c3 := waitConn(t, hub, "c", 0)
		if _, err := c3.Control(short, "v"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("unanswered request: %v, want DeadlineExceeded", err)
		}
	})

	t.Run("queued messages reach the agent in order", func(t *testing.T) {
		s := attach(t, ctx, client, hello("f"))
		c := waitConn(t, hub, "f", 0)
		const n = 500
		go func() {
			for i := range n {
				ref := fmt.Sprint(i)
				m := &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Screenshot{Screenshot: &locov1.CaptureScreenshot{RequestId: ref}}}
				if err := c.Send(ctx, m); err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // let the writer drain and stop, then start again
				}
			}
		}()
		for i := range n {
			m, err := s.Recv()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got := m.GetScreenshot().GetRequestId(); got != fmt.Sprint(i) {
				t.Fatalf("message %d: request %q", i, got)
			}
		}
		_ = s.CloseSend()
	})

	t.Run("hello twice is refused", func(t *testing.T) {
		s := attach(t, ctx, client, hello("d"))
		_ = s.Send(hello("d"))
		if _, err := s.Recv(); status.Code(err) != codes.InvalidArgument {
			t.Errorf("second hello: %v, want InvalidArgument", err)
		}
	})

	t.Run("close ends every stream", func(t *testing.T) {
		s := attach(t, ctx, client, hello("e"))
		waitConn(t, hub, "e", 0)
		hub.Close()
		if _, err := s.Recv(); status.Code(err) != codes.Unavailable {
			t.Errorf("after Close: %v, want Unavailable", err)
		}
	})
}
