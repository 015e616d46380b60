package instance

import (
	"context"

	"github.com/loco-cluster/loco/agent/internal/webrtc"
)

// Offer answers a viewer's offer (see [webrtc.Manager.Offer]).
func (in *Instance) Offer(ctx context.Context, req webrtc.OfferRequest) (webrtc.Answer, error) {
	return in.WebRTC.Offer(ctx, req)
}

// CloseSession ends a viewer session.
func (in *Instance) CloseSession(id, reason string) error { return in.WebRTC.CloseSession(id, reason) }

// SetController hands control to viewerID ("" releases it).
func (in *Instance) SetController(viewerID string) *webrtc.Viewer {
	return in.WebRTC.SetController(viewerID)
}

// Controller returns who holds control.
func (in *Instance) Controller() *webrtc.Viewer { return in.WebRTC.Controller() }
