package e2etest

import (
	"bytes"
	"context"
	"image/png"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/loco-cluster/loco/agent/internal/attach"
	"github.com/loco-cluster/loco/agent/internal/encode"
	"github.com/loco-cluster/loco/agent/internal/health"
	"github.com/loco-cluster/loco/agent/internal/instance"
	"github.com/loco-cluster/loco/agent/internal/vncsynth"
	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// fakeBroker is a stand-in for the broker's Attach service: it hands each stream to the test.
type fakeBroker struct {
	locov1.UnimplementedBrokerServer
	streams chan *brokerStream
}

type brokerStream struct {
	srv  grpc.BidiStreamingServer[locov1.AgentMessage, locov1.BrokerMessage]
	in   chan *locov1.AgentMessage
	kill chan struct{} // closing it ends the stream from the broker's side
}

func (b *fakeBroker) Attach(srv grpc.BidiStreamingServer[locov1.AgentMessage, locov1.BrokerMessage]) error {
	s := &brokerStream{srv: srv, in: make(chan *locov1.AgentMessage, 256), kill: make(chan struct{})}
	b.streams <- s
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := srv.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case s.in <- m:
			default: // the test does not read health reports it does not need
			}
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-s.kill:
		return nil
	}
}

// next returns the next message matching pick, skipping others.
func (s *brokerStream) next(t *testing.T, what string, pick func(*locov1.AgentMessage) bool) *locov1.AgentMessage {
	t.Helper()
	timeout := time.After(90 * time.Second)
	for {
		select {
		case m := <-s.in:
			if pick(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s from the agent within 90 s", what)
		}
	}
}

func startBroker(t *testing.T) (*fakeBroker, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBroker{streams: make(chan *brokerStream, 4)}
	srv := grpc.NewServer()
	locov1.RegisterBrokerServer(srv, b)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return b, ln.Addr().String()
}

// TestAttachToBroker: the agent attaches with a hello, reports health every second, answers an offer relayed by
// the broker (the viewer gets video), refuses a bad one with INVALID_ARGUMENT, follows control changes, answers a
// screenshot with a PNG of the framebuffer, refuses a restart without a supervisor, reports a session closed on
// the viewer's side, and reattaches after the broker goes away.
func TestAttachToBroker(t *testing.T) {
	_, addr := startSynth(t, vncsynth.Config{Scene: vncsynth.SceneTown, Label: "attach"})
	in := startAgent(t, addr, encode.H264, nil)
	mon := health.New(health.Config{}, in.Figures)
	broker, baddr := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mon.Run(ctx) }()
	att, err := attach.New(attach.Config{Broker: baddr, Hello: &locov1.AgentHello{InstanceId: "loco-0",
		VideoCodecs: []string{"video/H264"}}, Health: mon.Latest, Media: in, MinBackoff: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	in.SetEvents(instance.Events{SessionEnded: att.SessionEnded, ControlChanged: att.ControlChanged})
	go func() { _ = att.Run(ctx) }()

	var s *brokerStream
	select {
	case s = <-broker.streams:
	case <-time.After(90 * time.Second):
		t.Fatal("the agent did not attach")
	}
	hello := s.next(t, "hello", func(m *locov1.AgentMessage) bool { return true })
	if hello.GetHello().GetInstanceId() != "loco-0" {
		t.Fatalf("first message %v, want the hello", hello)
	}
	rep := s.next(t, "healthy report", func(m *locov1.AgentMessage) bool {
		return m.GetHealth().GetVerdict() == locov1.Verdict_VERDICT_HEALTHY
	})
	if !rep.GetHealth().GetVncConnected() || rep.GetHealth().GetScreenMode().GetWidth() != 800 {
		t.Errorf("health %v", rep.GetHealth())
	}

	// An offer through the broker.
	v, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	offer, _ := v.Offer()
	send := func(m *locov1.BrokerMessage) {
		t.Helper()
		if err := s.srv.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	send(&locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Offer{Offer: &locov1.SignalOffer{SessionId: "w-1",
		Sdp: offer, Viewer: &locov1.Viewer{Id: "v-1", Name: "Ana"}, Role: locov1.Role_ROLE_CONTROLLER}}})
	sawControl := false
	ans := s.next(t, "answer", func(m *locov1.AgentMessage) bool {
		if m.GetControl().GetController().GetId() == "v-1" {
			sawControl = true
		}
		return m.GetAnswer() != nil
	}).GetAnswer()
	if ans.GetSessionId() != "w-1" || ans.GetRole() != locov1.Role_ROLE_CONTROLLER {
		t.Fatalf("answer %v", ans)
	}
	if err := v.Accept(ans.GetSdp()); err != nil {
		t.Fatal(err)
	}
	wctx := waitCtx(t, 2*time.Minute)
	if err := v.WaitFor(wctx, func() bool { return len(v.Frames()) >= 3 }); err != nil {
		t.Fatal("no video after an offer relayed by the broker")
	}
	if !sawControl {
		s.next(t, "control state", func(m *locov1.AgentMessage) bool {
			return m.GetControl().GetController().GetId() == "v-1"
		})
	}

	// A bad offer.
	send(&locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Offer{Offer: &locov1.SignalOffer{SessionId: "w-2",
		Sdp: "nonsense"}}})
	e := s.next(t, "error", func(m *locov1.AgentMessage) bool { return m.GetError() != nil }).GetError()
	if e.GetRef() != "w-2" || e.GetCode() != locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT {
		t.Errorf("bad offer: %v", e)
	}

	// Control release.
	send(&locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Control{Control: &locov1.ControlChange{RequestId: "c-1"}}})
	cs := s.next(t, "control answer", func(m *locov1.AgentMessage) bool { return m.GetControl().GetRequestId() == "c-1" })
	if cs.GetControl().GetController() != nil {
		t.Errorf("control after release: %v", cs.GetControl())
	}

	// Screenshot.
	send(&locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Screenshot{Screenshot: &locov1.CaptureScreenshot{RequestId: "p-1"}}})
	shot := s.next(t, "screenshot", func(m *locov1.AgentMessage) bool { return m.GetScreenshot() != nil }).GetScreenshot()
	img, err := png.Decode(bytes.NewReader(shot.GetPng()))
	if err != nil || img.Bounds().Dx() != 800 || img.Bounds().Dy() != 600 || shot.GetRequestId() != "p-1" {
		t.Fatalf("screenshot: %v %v", err, img)
	}

	// Restart without a supervisor.
	send(&locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Restart{Restart: &locov1.RestartRequest{RequestId: "r-1",
		Kind: locov1.RestartKind_RESTART_KIND_RESTART_QEMU}}})
	re := s.next(t, "restart error", func(m *locov1.AgentMessage) bool { return m.GetError().GetRef() == "r-1" }).GetError()
	if re.GetCode() != locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION {
		t.Errorf("restart: %v", re)
	}

	// The viewer leaves: the agent reports the session ended.
	_ = v.Close()
	end := s.next(t, "session ended", func(m *locov1.AgentMessage) bool { return m.GetSessionEnded() != nil })
	if end.GetSessionEnded().GetSessionId() != "w-1" {
		t.Errorf("session ended: %v", end)
	}

	// The broker drops the stream: the agent comes back with a new hello.
	before := att.Streams()
	close(s.kill)
	var s3 *brokerStream
	select {
	case s3 = <-broker.streams:
	case <-time.After(90 * time.Second):
		t.Fatal("the agent did not reattach")
	}
	if h := s3.next(t, "hello", func(*locov1.AgentMessage) bool { return true }); h.GetHello() == nil {
		t.Fatalf("first message after reattaching: %v", h)
	}
	if att.Streams() <= before {
		t.Errorf("streams %d, before %d", att.Streams(), before)
	}
}
