package locov1_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// TestRoundTrip encodes each kind of message in binary and JSON and checks it decodes to the same value, so a
// contract change that breaks either encoding (a renamed JSON field the web UI reads, a reused field number) fails.
func TestRoundTrip(t *testing.T) {
	now := timestamppb.Now()
	instance := &locov1.Instance{
		Id: "loco-emulator-3", Ordinal: 3, State: locov1.InstanceState_INSTANCE_STATE_DEGRADED, StateSince: now,
		Reason:     "encode time high",
		Workload:   &locov1.Workload{Namespace: "loco", Pod: "loco-emulator-3", Node: "n1", Address: "10.0.0.7", Ready: true},
		Agent:      &locov1.AgentHello{InstanceId: "loco-emulator-3", VideoCodecs: []string{"video/H264", "video/VP8"}, InputProtocolVersion: 1, Webrtc: &locov1.WebRTCEndpoint{UdpPort: 8443, PublicIps: []string{"203.0.113.5"}}},
		Health:     &locov1.HealthReport{MeasuredAt: now, Verdict: locov1.Verdict_VERDICT_DEGRADED, Reasons: []string{"x"}, VncFps: 29.5, ScreenMode: &locov1.ScreenMode{Width: 800, Height: 600, GuestBpp: 16}, AudioRmsDbfs: -23.5, Qemu: locov1.QemuState_QEMU_STATE_RUNNING},
		Controller: &locov1.Viewer{Id: "v-1", Name: "Ana"},
	}
	messages := map[string]proto.Message{
		"instance":       instance,
		"agent hello":    &locov1.AgentMessage{Kind: &locov1.AgentMessage_Hello{Hello: instance.Agent}},
		"agent health":   &locov1.AgentMessage{Kind: &locov1.AgentMessage_Health{Health: instance.Health}},
		"agent answer":   &locov1.AgentMessage{Kind: &locov1.AgentMessage_Answer{Answer: &locov1.SignalAnswer{SessionId: "s1", Sdp: "v=0\r\n", Role: locov1.Role_ROLE_CONTROLLER}}},
		"agent error":    &locov1.AgentMessage{Kind: &locov1.AgentMessage_Error{Error: &locov1.AgentError{Ref: "s1", Code: locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT, Message: "bad sdp"}}},
		"broker offer":   &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Offer{Offer: &locov1.SignalOffer{SessionId: "s1", Sdp: "v=0\r\n", Viewer: &locov1.Viewer{Id: "v"}, Role: locov1.Role_ROLE_SPECTATOR, MaxWidth: 320}}},
		"broker restart": &locov1.BrokerMessage{Kind: &locov1.BrokerMessage_Restart{Restart: &locov1.RestartRequest{RequestId: "r", Kind: locov1.RestartKind_RESTART_KIND_RESTART_QEMU}}},
		"watch event":    &locov1.WatchInstancesResponse{Sequence: 42, Type: locov1.EventType_EVENT_TYPE_UPDATED, Instance: instance},
		"screenshot":     &locov1.ScreenshotResponse{Png: []byte{0x89, 'P', 'N', 'G'}, CapturedAt: now},
	}
	for name, m := range messages {
		t.Run(name, func(t *testing.T) {
			b, err := proto.Marshal(m)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			back := m.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(b, back); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if !proto.Equal(m, back) {
				t.Fatalf("binary round trip changed the message:\n got %v\nwant %v", back, m)
			}
			j, err := protojson.Marshal(m)
			if err != nil {
				t.Fatalf("json marshal: %v", err)
			}
			back = m.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(j, back); err != nil {
				t.Fatalf("json unmarshal: %v", err)
			}
			if !proto.Equal(m, back) {
				t.Fatalf("JSON round trip changed the message:\n got %v\nwant %v", back, m)
			}
		})
	}
}

// TestJSONNamesUsedByTheWebUI pins the JSON field and enum names the browser reads (docs/api.md).
func TestJSONNamesUsedByTheWebUI(t *testing.T) {
	ev := &locov1.WatchInstancesResponse{Sequence: 7, Type: locov1.EventType_EVENT_TYPE_ADDED, Instance: &locov1.Instance{
		Id: "a", State: locov1.InstanceState_INSTANCE_STATE_HEALTHY,
		Health: &locov1.HealthReport{SecondsSinceChange: 1.5, AudioRmsDbfs: -20, Viewers: 2},
	}}
	j, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// protojson randomizes its whitespace on purpose; compare the compacted form.
	var compact bytes.Buffer
	if err := json.Compact(&compact, j); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sequence":"7"`, `"type":"EVENT_TYPE_ADDED"`, `"state":"INSTANCE_STATE_HEALTHY"`, `"secondsSinceChange":1.5`, `"audioRmsDbfs":-20`, `"viewers":2`, `"controller":null`} {
		if !strings.Contains(compact.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, compact.String())
		}
	}
}
