package api

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/loco-cluster/loco/broker/internal/registry"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Health implements grpc.health.v1.Health over the registry: service "" is the broker (always SERVING while it
// runs); any other service name is an instance id, SERVING when the instance is healthy or degraded, NOT_SERVING
// otherwise, and NOT_FOUND (SERVICE_UNKNOWN in Watch) when the registry does not know it.
type Health struct {
	healthpb.UnimplementedHealthServer
	reg Registry
}

// NewHealth creates the health service.
func NewHealth(reg Registry) *Health { return &Health{reg: reg} }

func servingStatus(in *locov1.Instance) healthpb.HealthCheckResponse_ServingStatus {
	switch in.GetState() {
	case locov1.InstanceState_INSTANCE_STATE_HEALTHY, locov1.InstanceState_INSTANCE_STATE_DEGRADED:
		return healthpb.HealthCheckResponse_SERVING
	}
	return healthpb.HealthCheckResponse_NOT_SERVING
}

// Check implements Health.
func (h *Health) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() == "" {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	in, ok := h.reg.Get(req.GetService())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "unknown instance %q", req.GetService())
	}
	return &healthpb.HealthCheckResponse{Status: servingStatus(in)}, nil
}

// List implements Health: the broker and every instance.
func (h *Health) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{
		"": {Status: healthpb.HealthCheckResponse_SERVING},
	}}
	for _, in := range h.reg.List() {
		out.Statuses[in.GetId()] = &healthpb.HealthCheckResponse{Status: servingStatus(in)}
	}
	return out, nil
}

// Watch implements Health: the current status, then every change.
func (h *Health) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	id := req.GetService()
	if id == "" {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}); err != nil {
			return err
		}
		<-stream.Context().Done()
		return nil
	}
	latest, feed := h.reg.Follow(watchLimit)
	defer feed.Close()
	cur := healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	for _, ev := range latest {
		if ev.Instance.GetId() == id {
			cur = servingStatus(ev.Instance)
		}
	}
	if err := stream.Send(&healthpb.HealthCheckResponse{Status: cur}); err != nil {
		return err
	}
	// The feed hands over every state change of the instance, so no change of serving status is missed.
	err := follow(stream.Context(), feed, func(ev *registry.Event) error {
		if ev.Instance.GetId() != id {
			return nil
		}
		next := servingStatus(ev.Instance)
		if ev.Type == locov1.EventType_EVENT_TYPE_REMOVED {
			next = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		}
		if next == cur {
			return nil
		}
		cur = next
		return stream.Send(&healthpb.HealthCheckResponse{Status: cur})
	})
	if errors.Is(err, errFellBehind) || errors.Is(err, errFeedEnded) {
		return status.Error(codes.Unavailable, "health watch ended; watch again")
	}
	return err
}
