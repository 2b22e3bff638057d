package ingest

import (
	"context"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Defaults of Config.ResyncAfter and ResyncEvery.
const (
	resyncAfter = 2 * time.Minute
	resyncEvery = 15 * time.Second
)

// resyncBehind sends what they lack to the online doors that stay behind,
// every ResyncEvery until ctx ends, while this ingest publishes whitelists.
//
// A door asks for its whitelist when it connects and when a snapshot stays
// incomplete; otherwise it waits for the central's changes. An answer or a
// change that never reaches it (the request came while no replica
// published whitelists, the broker gave the message up, the publish timed
// out in a reconnect storm) would leave it behind until its next
// connection: a door that never got its first snapshot denies every badge.
// Its statuses (every 30 s) say which version it holds, so a door whose
// statuses report the same version, below the one compiled for it, for
// ResyncAfter, and that was sent no whitelist message meanwhile, is sent
// the difference through the sync queue, like a request of its own:
// rate-limited per door and merged with a request already waiting.
// ResyncAfter is well above a change's normal delivery time, so that a
// change on its way, or a snapshot a slow door is still applying, is not
// sent twice.
//
// The look at the doors runs here, not on the status's goroutine (the
// door's broker connection): the compiler's lock can be held by a large
// recompile, and a door's connection must never wait for it.
func (in *Ingest) resyncBehind(ctx context.Context) {
	t := time.NewTicker(in.cfg.ResyncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		src := in.source()
		if src == nil {
			continue
		}
		type behind struct {
			door string
			from uint64
		}
		now := in.cfg.Now()
		var stale []behind
		in.mu.Lock()
		for id, d := range in.doors {
			if d.Status.State == protocol.StateOnline && now.Sub(d.wlSince) >= in.cfg.ResyncAfter {
				stale = append(stale, behind{id, d.Status.WLVersion})
			}
		}
		in.mu.Unlock()
		n := 0
		for _, b := range stale {
			if v, ok := src.Version(b.door); !ok || v <= b.from {
				continue
			}
			// Looked at again: while the compiler answered (its lock can
			// be held by a large recompile) the door may have reported
			// another version, or been sent a whitelist message, which it
			// is given ResyncAfter to apply.
			in.mu.Lock()
			d := in.doors[b.door]
			still := d != nil && d.Status.State == protocol.StateOnline && d.Status.WLVersion == b.from &&
				now.Sub(d.wlSince) >= in.cfg.ResyncAfter
			if still {
				d.wlSince = now // at most once per ResyncAfter
			}
			in.mu.Unlock()
			if !still {
				continue
			}
			in.queueSync(b.door, b.from)
			in.resyncs.Inc()
			n++
		}
		if n > 0 {
			in.log.Warn("doors stayed behind their compiled whitelist; sending them what they lack", "doors", n, "after", in.cfg.ResyncAfter)
		}
	}
}
