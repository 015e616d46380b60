package capture

import "sync"

// Notifier signals a set of subscribed channels without blocking: a channel with a capacity of 1 holds one pending
// signal standing for any number of notifications. The zero value is ready to use.
type Notifier struct {
	mu   sync.Mutex
	subs []chan<- struct{}
}

// Subscribe registers ch; unsubscribe with the returned function.
func (n *Notifier) Subscribe(ch chan<- struct{}) (unsubscribe func()) {
	n.mu.Lock()
	n.subs = append(n.subs, ch)
	n.mu.Unlock()
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		for i, c := range n.subs {
			if c == ch {
				n.subs = append(n.subs[:i], n.subs[i+1:]...)
				return
			}
		}
	}
}

// Notify signals every subscriber that has no signal pending.
func (n *Notifier) Notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
