package webrtc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	pion "github.com/pion/webrtc/v4"

	"github.com/loco-cluster/loco/agent/internal/webrtc/webrtctest"
)

func TestParseICEServers(t *testing.T) {
	got, err := ParseICEServers("stun:stun.example.org:3478, turn:user:secret@turn.example.org:3478?transport=tcp")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].URLs[0] != "stun:stun.example.org:3478" || got[1].Username != "user" ||
		got[1].Credential != "secret" || got[1].URLs[0] != "turn:turn.example.org:3478?transport=tcp" {
		t.Fatalf("%+v", got)
	}
	if urls := URLs(got); len(urls) != 2 || urls[1] != "turn:turn.example.org:3478?transport=tcp" {
		t.Fatalf("URLs %v", urls)
	}
	for _, bad := range []string{"http://x", "turn:@host", "turn:user:pass@", "nonsense"} {
		if _, err := ParseICEServers(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if got, err := ParseICEServers(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestConfigValidation(t *testing.T) {
	for name, c := range map[string]Config{
		"codec":     {VideoMime: "video/AV1"},
		"bitrates":  {VideoMime: "video/H264", MinBitrate: 5_000_000, MaxBitrate: 1_000_000},
		"public ip": {VideoMime: "video/VP8", PublicIPs: []string{"not-an-ip"}},
		"listen ip": {VideoMime: "video/VP8", ListenIP: "nope"},
	} {
		if _, err := New(c, Deps{}); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	m, err := New(Config{VideoMime: "video/H264", ListenIP: "127.0.0.1", PublicIPs: []string{"203.0.113.7"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.UDPPort() == 0 || m.TCPPort() == 0 {
		t.Errorf("ports %d/%d", m.UDPPort(), m.TCPPort())
	}
}

// TestAnswerAdvertisesPublicIP: with NAT 1:1 addresses the answer's host candidates carry them, on the one UDP
// port of the mux, and the answer is complete (non-trickle).
func TestAnswerAdvertisesPublicIP(t *testing.T) {
	m, err := New(Config{VideoMime: "video/VP8", ListenIP: "127.0.0.1", TCPPort: -1, AllowLoopback: true,
		PublicIPs: []string{"203.0.113.7"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v, err := webrtctest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	offer, err := v.Offer()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := m.Offer(context.Background(), OfferRequest{SessionID: "s", SDP: offer, Viewer: Viewer{ID: "v"}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("203.0.113.7 %d typ host", m.UDPPort())
	if !strings.Contains(ans.SDP, want) || !strings.Contains(ans.SDP, "a=end-of-candidates") {
		t.Fatalf("answer lacks %q or end-of-candidates:\n%s", want, ans.SDP)
	}
	if !strings.Contains(ans.SDP, PlayoutDelayURI) {
		t.Errorf("answer does not negotiate playout-delay:\n%s", ans.SDP)
	}
}

// TestOfferWithoutOurCodec: a viewer that cannot receive the agent's codec gets a clear ErrBadOffer.
func TestOfferWithoutOurCodec(t *testing.T) {
	m, err := New(Config{VideoMime: "video/H264", ListenIP: "127.0.0.1", TCPPort: -1, AllowLoopback: true}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	me := &pion.MediaEngine{}
	if err := me.RegisterCodec(vp8Codec, pion.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	pc, err := pion.NewAPI(pion.WithMediaEngine(me)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo,
		pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Offer(context.Background(), OfferRequest{SessionID: "x", SDP: offer.SDP})
	if !errors.Is(err, ErrBadOffer) || !strings.Contains(err.Error(), "video/H264") {
		t.Fatalf("err %v", err)
	}
	if st := m.Stats(); st.Sessions != 0 {
		t.Errorf("%d sessions left", st.Sessions)
	}
}
