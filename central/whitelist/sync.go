package whitelist

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Sync is the answer to a door's sync request: signed messages to publish on
// the door's whitelist topic, in order. Kind is empty (and Messages nil) when
// the door is already up to date.
type Sync struct {
	Door     string
	Kind     protocol.WhitelistKind
	Base     uint64 // the version a delta starts from; 0 for a snapshot
	Version  uint64
	Entries  int // entries carried (upserts of a delta, or the snapshot size)
	Removed  int // removals carried by a delta
	Messages [][]byte
}

// ForSync answers a door that holds version from (0: nothing): nothing when
// it is up to date, a merged delta from the log when the log reaches back to
// from, and the snapshot parts of the current version otherwise (from 0 or
// unknown, too old, or a delta too large for one message). A from above the
// door's version (the central lost versions, such as after restoring a
// backup) moves the version past from, and the door gets a snapshot.
func (c *Compiler) ForSync(ctx context.Context, doorID string, from uint64) (Sync, error) {
	c.mu.Lock()
	d, ok := c.doors[doorID]
	if !ok {
		c.mu.Unlock()
		c.met.syncs.With("unknown_door").Inc()
		return Sync{}, fmt.Errorf("%w: %q", ErrUnknownDoor, doorID)
	}
	if c.unsaved[d] {
		_ = c.commit(ctx, d, commitOpts{}) // logged inside; answer from the published version
	}
	if from > d.version {
		if from-d.version > maxVersionJump {
			v := d.version
			c.mu.Unlock()
			c.met.syncs.With("bad_version").Inc()
			c.log.Warn("whitelist: door reports a version far above ours; refused", "door", doorID, "from", from, "version", v)
			return Sync{}, fmt.Errorf("%w: door %s holds %d, central is at %d", ErrBadVersion, doorID, from, v)
		}
		c.log.Warn("whitelist: door holds a version above ours (central data restored?); moving past it",
			"door", doorID, "from", from, "version", d.version)
		d.resetLog = true
		if err := c.commit(ctx, d, commitOpts{force: true, minVersion: from}); err != nil {
			c.mu.Unlock()
			c.met.syncs.With("error").Inc()
			return Sync{}, err
		}
		c.met.syncs.With("version_jump").Inc()
	}
	if from == d.version {
		v := d.version
		c.mu.Unlock()
		c.met.syncs.With("up_to_date").Inc()
		return Sync{Door: doorID, Version: v}, nil
	}
	if from != 0 {
		if w, ok := c.mergedDelta(d, from); ok {
			c.mu.Unlock()
			msg, err := c.cfg.Signer.SignWhitelist(w)
			if err == nil {
				c.met.syncs.With("delta").Inc()
				return Sync{Door: doorID, Kind: protocol.Delta, Base: w.Base, Version: w.Version,
					Entries: len(w.Entries), Removed: len(w.Removed), Messages: [][]byte{msg}}, nil
			}
			if !errors.Is(err, protocol.ErrTooLarge) {
				c.met.syncs.With("error").Inc()
				return Sync{}, fmt.Errorf("whitelist: sign delta for door %s: %w", doorID, err)
			}
			c.met.syncs.With("delta_too_large").Inc()
			c.mu.Lock()
			if c.doors[doorID] != d {
				c.mu.Unlock()
				return Sync{}, fmt.Errorf("%w: %q (deleted meanwhile)", ErrUnknownDoor, doorID)
			}
		}
	}
	return c.snapshotLocked(d)
}

// mergedDelta merges the door's steps from version from to its published
// version: the audience's steps between the matching audience versions. It
// reports false when the door's runs or the audience's log do not reach back
// to from.
func (c *Compiler) mergedDelta(d *door, from uint64) (*protocol.Whitelist, bool) {
	av, ok := d.avAt(from)
	if !ok {
		return nil, false
	}
	merged, ok := d.caud.merged(av, d.cav)
	if !ok {
		return nil, false
	}
	k := d.committedKey()
	w := &protocol.Whitelist{
		Door: d.d.ID, Kind: protocol.Delta, Base: from, Version: d.version,
		IssuedMs: c.now.UnixMilli(), ExpiresMs: c.now.Add(c.cfg.Expiry).UnixMilli(),
		Center: k.center, Room: k.room, RequireSecure: d.committedSecure, HeldOpenS: d.committedHeldOpen,
	}
	var upserts []*protocol.Entry
	for uid, ch := range merged {
		switch {
		case ch.e != nil:
			upserts = append(upserts, ch.e)
		case ch.before != nil:
			w.Removed = append(w.Removed, uid)
		}
	}
	w.Entries = sortEntries(upserts)
	sort.Slice(w.Removed, func(i, j int) bool { return w.Removed[i] < w.Removed[j] })
	return w, true
}

// snapshotLocked returns the signed snapshot parts of d's published version.
// It is called with c.mu held and releases it; the encoding and signing run
// outside the lock.
//
// The entries of an audience version are sorted and encoded once, kept on the
// audience (encodedFor), and signed per door, since the header names the
// door and its version. The signed parts are not kept: that would cost a
// copy of the entries per door. A door keeps only the issue time of its
// last snapshot; a request for the same version within SnapshotMaxAge is
// signed again with that issue time, and Ed25519 signatures are
// deterministic, so it gets the very bytes it got before.
func (c *Compiler) snapshotLocked(d *door) (Sync, error) {
	issued, again := c.now, false
	if d.snapVersion == d.version && c.now.Sub(d.snapIssued) < c.cfg.SnapshotMaxAge {
		issued, again = d.snapIssued, true
	}
	k := d.committedKey()
	h := protocol.Whitelist{
		Door: d.d.ID, Version: d.version,
		IssuedMs: issued.UnixMilli(), ExpiresMs: issued.Add(c.cfg.Expiry).UnixMilli(),
		Center: k.center, Room: k.room, RequireSecure: d.committedSecure, HeldOpenS: d.committedHeldOpen,
	}
	se, err := c.encodedLocked(d)
	if err != nil {
		c.met.syncs.With("error").Inc()
		c.log.Error("whitelist: encoding a snapshot failed", "door", d.d.ID, "version", h.Version, "error", err)
		return Sync{}, fmt.Errorf("whitelist: encode snapshot of door %s version %d: %w", d.d.ID, h.Version, err)
	}
	parts, err := c.cfg.Signer.SignSnapshotEntries(h, se)
	if err != nil {
		c.met.syncs.With("error").Inc()
		c.log.Error("whitelist: signing a snapshot failed", "door", d.d.ID, "version", h.Version, "error", err)
		return Sync{}, fmt.Errorf("whitelist: sign snapshot of door %s version %d: %w", d.d.ID, h.Version, err)
	}
	if again {
		c.met.syncs.With("snapshot_cached").Inc()
	} else {
		c.mu.Lock()
		if d.version == h.Version {
			d.snapVersion, d.snapIssued = h.Version, issued
		}
		c.mu.Unlock()
		c.met.syncs.With("snapshot").Inc()
	}
	return Sync{Door: d.d.ID, Kind: protocol.Snapshot, Version: h.Version, Entries: se.Len(), Messages: parts}, nil
}

// encodedLocked returns the encoded entries of the audience version d
// publishes. It is called with c.mu held and releases it. The encoding of
// an audience's current version is kept on the audience for the next door
// that asks (until the audience moves on, or SnapshotMaxAge after it was
// made: Tick drops it); the version of a lagging door is encoded for it
// alone.
func (c *Compiler) encodedLocked(d *door) (*protocol.SnapshotEntries, error) {
	a, av := d.caud, d.cav
	if a != nil && a.encoded != nil && a.encodedVersion == av {
		se := a.encoded
		c.mu.Unlock()
		return se, nil
	}
	es, err := d.committedEntries()
	current := a != nil && av == a.version
	now := c.now
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}

	se, err := protocol.EncodeSnapshotEntries(sortEntries(es))
	if err != nil || !current {
		return se, err
	}
	c.mu.Lock()
	if a.version == av {
		a.encoded, a.encodedVersion, a.encodedAt = se, av, now
	}
	c.mu.Unlock()
	return se, nil
}

// Update says that a door has a new version. Base is the version the door was
// at before the first update not yet taken from the watcher, so that
// ForSync(Door, Base) gives everything the publisher has not sent.
type Update struct {
	Door    string
	Base    uint64
	Version uint64
}

// Watcher receives the doors' new versions, coalesced per door: a consumer
// that falls behind finds one Update per door with the latest version, and
// the compiler never waits for it.
type Watcher struct {
	c       *Compiler
	mu      sync.Mutex
	pending map[string]Update
	ready   chan struct{}
	done    chan struct{}
	once    sync.Once
}

// Watch returns a new Watcher. Close it when done.
func (c *Compiler) Watch() *Watcher {
	w := &Watcher{c: c, pending: map[string]Update{}, ready: make(chan struct{}, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.watchers[w] = true
	c.mu.Unlock()
	return w
}

// notify is called with c.mu held; it never blocks.
func (c *Compiler) notify(u Update) {
	for w := range c.watchers {
		w.mu.Lock()
		if p, ok := w.pending[u.Door]; ok {
			u.Base = min(p.Base, u.Base)
		}
		w.pending[u.Door] = u
		w.mu.Unlock()
		select {
		case w.ready <- struct{}{}:
		default:
		}
	}
}

// Ready is signalled when updates are waiting; use it in a select, then call
// Take.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Take returns the waiting updates sorted by door, without blocking.
func (w *Watcher) Take() []Update {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	out := make([]Update, 0, len(w.pending))
	for _, u := range w.pending {
		out = append(out, u)
	}
	clear(w.pending)
	sort.Slice(out, func(i, j int) bool { return out[i].Door < out[j].Door })
	return out
}

// Next waits until updates are waiting and returns them, or returns the
// context's error, or ErrClosed after Close.
func (w *Watcher) Next(ctx context.Context) ([]Update, error) {
	for {
		if us := w.Take(); len(us) > 0 {
			return us, nil
		}
		select {
		case <-w.ready:
		case <-w.done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close stops the watcher.
func (w *Watcher) Close() {
	w.once.Do(func() {
		w.c.mu.Lock()
		delete(w.c.watchers, w)
		w.c.mu.Unlock()
		close(w.done)
	})
}
