// Package api serves the broker's gRPC surface for operators: loco.v1.Ops (list, get, watch, restart, screenshot)
// and grpc.health.v1.Health, where the service name is an instance id ("" is the broker itself), so standard tools
// (grpc_health_probe, grpcurl) can ask about single instances.
package api

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loco-cluster/loco/broker/internal/agentlink"
	"github.com/loco-cluster/loco/broker/internal/recovery"
	"github.com/loco-cluster/loco/broker/internal/registry"
	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

// Registry is what the API reads.
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

// Ops implements locov1.OpsServer.
type Ops struct {
	locov1.UnimplementedOpsServer
	reg       Registry
	agents    Agents
	restarter Restarter
}

// NewOps creates the Ops service.
func NewOps(reg Registry, agents Agents, restarter Restarter) *Ops {
	return &Ops{reg: reg, agents: agents, restarter: restarter}
}

// ListInstances implements Ops.
func (o *Ops) ListInstances(context.Context, *locov1.ListInstancesRequest) (*locov1.ListInstancesResponse, error) {
	return &locov1.ListInstancesResponse{Instances: o.reg.List()}, nil
}

// GetInstance implements Ops.
func (o *Ops) GetInstance(_ context.Context, req *locov1.GetInstanceRequest) (*locov1.GetInstanceResponse, error) {
	in, ok := o.reg.Get(req.GetId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "unknown instance %q", req.GetId())
	}
	return &locov1.GetInstanceResponse{Instance: in}, nil
}

// WatchInstances implements Ops: every instance as a snapshot (EVENT_TYPE_SNAPSHOT at the sequence of the last
// change before it), then every change in the registry's order. A watcher that reads slowly is not queued a
// backlog: an update of an instance that it has not been sent yet is replaced by a newer update of that instance in
// the same state, so sequence numbers increase but may skip, every state change still arrives in order, and the last
// event of each instance is its current state. One that falls more than watchLimit unsent changes behind is ended
// with ResourceExhausted (watch again for a fresh snapshot).
func (o *Ops) WatchInstances(_ *locov1.WatchInstancesRequest, stream locov1.Ops_WatchInstancesServer) error {
	latest, feed := o.reg.Follow(watchLimit)
	defer feed.Close()
	for _, ev := range latest {
		msg := &locov1.WatchInstancesResponse{Sequence: feed.Start(), Type: locov1.EventType_EVENT_TYPE_SNAPSHOT,
			Instance: ev.Instance}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	err := follow(stream.Context(), feed, func(ev *registry.Event) error { return stream.Send(ev.Proto()) })
	switch {
	case errors.Is(err, errFellBehind):
		return status.Error(codes.ResourceExhausted, "watcher fell behind; watch again")
	case errors.Is(err, errFeedEnded):
		return status.Error(codes.Unavailable, "broker shutting down")
	}
	return err
}

// RestartInstance implements Ops.
func (o *Ops) RestartInstance(ctx context.Context, req *locov1.RestartInstanceRequest) (*locov1.RestartInstanceResponse, error) {
	reason := req.GetReason()
	if reason == "" {
		reason = "requested over the Ops API"
	}
	action, err := o.restarter.Manual(ctx, req.GetId(), reason)
	if err != nil {
		return nil, toStatus(err)
	}
	return &locov1.RestartInstanceResponse{Action: action}, nil
}

// Screenshot implements Ops.
func (o *Ops) Screenshot(ctx context.Context, req *locov1.ScreenshotRequest) (*locov1.ScreenshotResponse, error) {
	if _, ok := o.reg.Get(req.GetId()); !ok {
		return nil, status.Errorf(codes.NotFound, "unknown instance %q", req.GetId())
	}
	c, ok := o.agents.Conn(req.GetId())
	if !ok {
		return nil, status.Errorf(codes.Unavailable, "instance %q: agent not attached", req.GetId())
	}
	res, err := c.Screenshot(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &locov1.ScreenshotResponse{Png: res.GetPng(), CapturedAt: res.GetCapturedAt()}, nil
}

// toStatus maps broker errors to gRPC status codes.
func toStatus(err error) error {
	var ae *agentlink.AgentError
	if errors.As(err, &ae) {
		code := codes.Internal
		switch ae.Code {
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_INVALID_ARGUMENT:
			code = codes.InvalidArgument
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_NOT_FOUND:
			code = codes.NotFound
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_UNAVAILABLE:
			code = codes.Unavailable
		case locov1.AgentErrorCode_AGENT_ERROR_CODE_FAILED_PRECONDITION:
			code = codes.FailedPrecondition
		}
		return status.Error(code, err.Error())
	}
	switch {
	case errors.Is(err, recovery.ErrUnknownInstance):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, recovery.ErrNotAttached), errors.Is(err, agentlink.ErrDetached):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}
