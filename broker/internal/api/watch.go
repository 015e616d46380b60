package api

import (
	"context"
	"errors"

	"github.com/loco-cluster/loco/broker/internal/registry"
)

// watchLimit is how many unread changes a gRPC watcher may fall behind (after the health-only updates of an
// instance replaced each other: about one per instance plus its state changes) before it is cut off.
const watchLimit = 4096

// watchGroup is how many changes a watcher takes from its feed at a time: the ones it has not taken yet can still be
// replaced by newer ones while it sends.
const watchGroup = 16

var (
	// errFellBehind ends a watch whose feed was dropped because the watcher did not take its changes.
	errFellBehind = errors.New("watcher fell behind")
	// errFeedEnded ends a watch when the registry stops.
	errFeedEnded = errors.New("registry stopped")
)

// follow hands every change of feed to send, in sequence order, until ctx ends (nil), send fails (its error), or
// the feed ends (errFellBehind or errFeedEnded). The watcher's feed queues nothing of its own: while send blocks on
// a slow client, a newer health-only update of an instance replaces the older one not taken yet, so the client gets
// every state change and the latest figures, and publishing and other watchers never wait for it.
func follow(ctx context.Context, feed *registry.Feed, send func(*registry.Event) error) error {
	var group [watchGroup]*registry.Event
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-feed.Ready():
		}
		for {
			evs, ok := feed.Next(group[:0], watchGroup)
			for _, ev := range evs {
				if err := send(ev); err != nil {
					return err
				}
			}
			clear(group[:])
			if !ok {
				if feed.Dropped() {
					return errFellBehind
				}
				return errFeedEnded
			}
			if len(evs) < watchGroup {
				break
			}
		}
	}
}
