package agentlink

import (
	"errors"
	"fmt"

	locov1 "github.com/loco-cluster/loco/proto/loco/v1"
)

var (
	// ErrDetached means the agent's stream ended before the request was answered.
	ErrDetached = errors.New("agent detached")
	// ErrDuplicateRef means a request with the same id is already waiting.
	ErrDuplicateRef = errors.New("request id already pending")
	// ErrUnexpectedReply means the agent answered a request with the wrong kind of message.
	ErrUnexpectedReply = errors.New("unexpected reply from agent")

	errReplaced   = errors.New("replaced by a newer attach")
	errClosing    = errors.New("broker shutting down")
	errSendFailed = errors.New("send to the agent failed")
)

// AgentError is a failure the agent reported for a request.
type AgentError struct {
	Instance string
	Code     locov1.AgentErrorCode
	Message  string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("agent %s: %s: %s", e.Instance, e.Code, e.Message)
}
