package qemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// qmp is a client of QEMU's machine protocol: one command at a time, events logged.
type qmp struct {
	conn    net.Conn
	log     *slog.Logger
	mu      sync.Mutex // one command in flight
	replies chan qmpReply
	closed  chan struct{}
}

type qmpReply struct {
	Return json.RawMessage               `json:"return"`
	Error  *struct{ Class, Desc string } `json:"error"`
	Event  string                        `json:"event"`
	QMP    json.RawMessage               `json:"QMP"`
}

// dialQMP connects, reads the greeting and leaves capabilities negotiation mode.
func dialQMP(path string, log *slog.Logger) (*qmp, error) {
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, err
	}
	q := &qmp{conn: conn, log: log, replies: make(chan qmpReply, 1), closed: make(chan struct{})}
	greeting := make(chan error, 1)
	go q.read(greeting)
	select {
	case err := <-greeting:
		if err != nil {
			conn.Close()
			return nil, err
		}
	case <-time.After(5 * time.Second):
		conn.Close()
		return nil, fmt.Errorf("%w: no greeting", ErrQMP)
	}
	if _, err := q.execute("qmp_capabilities", nil, 5*time.Second); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmp) read(greeting chan<- error) {
	defer close(q.closed)
	sc := bufio.NewScanner(q.conn)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	first := true
	for sc.Scan() {
		var r qmpReply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			q.log.Warn("qmp: unreadable message", "err", err)
			continue
		}
		switch {
		case first:
			first = false
			if r.QMP == nil {
				greeting <- fmt.Errorf("%w: unexpected greeting %s", ErrQMP, sc.Text())
				return
			}
			greeting <- nil
		case r.Event != "":
			q.log.Info("qmp event", "event", r.Event)
		default:
			select {
			case q.replies <- r:
			default:
				q.log.Warn("qmp: unexpected reply", "reply", sc.Text())
			}
		}
	}
	if first {
		greeting <- fmt.Errorf("%w: connection closed before the greeting", ErrQMP)
	}
}

// execute runs one command and returns its "return" value.
func (q *qmp) execute(cmd string, args any, timeout time.Duration) (json.RawMessage, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	msg := map[string]any{"execute": cmd}
	if args != nil {
		msg["arguments"] = args
	}
	b, _ := json.Marshal(msg)
	_ = q.conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrQMP, cmd, err)
	}
	select {
	case r := <-q.replies:
		if r.Error != nil {
			return nil, fmt.Errorf("%w: %s: %s: %s", ErrQMP, cmd, r.Error.Class, r.Error.Desc)
		}
		return r.Return, nil
	case <-q.closed:
		return nil, fmt.Errorf("%w: %s: connection closed", ErrQMP, cmd)
	case <-time.After(timeout):
		return nil, fmt.Errorf("%w: %s: no answer in %s", ErrQMP, cmd, timeout)
	}
}

func (q *qmp) close() { q.conn.Close() }
