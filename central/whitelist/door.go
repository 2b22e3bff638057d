package whitelist

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// door is one door's version line over the content of its audience. It holds
// no entries: its published version is an audience version (caud, cav), and
// runs map the door's recent versions to audience versions, so a delta
// between two door versions is the audience's delta between the matching
// audience versions. A few hundred bytes per door.
type door struct {
	d   domain.Door
	aud *audience // the audience of d's center and room: the desired content

	version  uint64
	hash     string // saved with version (the audience's hash, shared)
	issued   time.Time
	caud     *audience // the audience version is published from; nil before the first version
	cav      uint64
	resetLog bool  // the next version drops the log (new door, new center or room, version jump)
	runs     []run // the door versions a delta may start from, oldest first
	// requireSecure is the door's center's require_secure_credentials
	// policy; committedSecure the one of the published version (every
	// message of the door says it, so a change is a new door version).
	requireSecure, committedSecure bool
	// heldOpen is the network's held-open threshold (seconds, 0: none);
	// committedHeldOpen the one of the published version (every message
	// says it too).
	heldOpen, committedHeldOpen int

	// The version and issue time of the last snapshot signed (see
	// snapshotLocked).
	snapVersion uint64
	snapIssued  time.Time
}

// stateHash is the hash saved with the door's next version: its audience's,
// its center's require_secure_credentials policy when set and the
// network's held-open threshold when set (so that a policy or threshold
// changed while this central was down is a new version at start, and a
// network without them keeps the hashes it had).
func (d *door) stateHash() string {
	h := d.aud.hash
	if d.requireSecure {
		h += "+require_secure"
	}
	if d.heldOpen != 0 {
		h += "+held_open=" + strconv.Itoa(d.heldOpen)
	}
	return h
}

// run maps n consecutive door versions from version on to the consecutive
// audience versions from av on. A heartbeat (a door version without an
// audience change) or an audience version skipped by a door whose save
// failed starts a new run.
type run struct {
	version, av uint64
	n           uint64
}

// avAt returns the audience version of door version v, if the runs reach it.
func (d *door) avAt(v uint64) (uint64, bool) {
	for i := len(d.runs) - 1; i >= 0; i-- {
		r := d.runs[i]
		if v >= r.version && v < r.version+r.n {
			return r.av + (v - r.version), true
		}
	}
	return 0, false
}

// record adds door version v holding audience version av to the runs and
// forgets the versions more than maxDeltas behind.
func (d *door) record(v, av uint64, reset bool, maxDeltas int) {
	if reset {
		d.runs = d.runs[:0]
	}
	if n := len(d.runs); n > 0 {
		r := &d.runs[n-1]
		if r.version+r.n == v && r.av+r.n == av {
			r.n++
		} else {
			d.runs = append(d.runs, run{version: v, av: av, n: 1})
		}
	} else {
		d.runs = append(d.runs, run{version: v, av: av, n: 1})
	}
	if v <= uint64(maxDeltas) {
		return
	}
	oldest := v - uint64(maxDeltas)
	for len(d.runs) > 0 && d.runs[0].version+d.runs[0].n <= oldest {
		d.runs = d.runs[1:]
	}
	if r := &d.runs[0]; r.version < oldest {
		cut := oldest - r.version
		r.version, r.av, r.n = oldest, r.av+cut, r.n-cut
	}
}

// committedEntries returns the entries of the published version.
func (d *door) committedEntries() ([]*protocol.Entry, error) {
	if d.caud == nil {
		return nil, nil
	}
	es, ok := d.caud.entriesAt(d.cav)
	if !ok {
		// The audience keeps its log back to the versions of its unsaved
		// doors (the pin) and always its newest step, and a saved door
		// publishes its audience's version: this is a bug.
		return nil, fmt.Errorf("whitelist: door %s publishes audience version %d, which its audience (center %q, room %q, version %d) no longer holds",
			d.d.ID, d.cav, d.caud.key.center, d.caud.key.room, d.caud.version)
	}
	return es, nil
}

// committedKey names the center and room of the published version's header.
func (d *door) committedKey() audienceKey {
	if d.caud == nil {
		return audienceKey{}
	}
	return d.caud.key
}

func sortEntries(es []*protocol.Entry) []protocol.Entry {
	sort.Slice(es, func(i, j int) bool { return es[i].UID < es[j].UID })
	out := make([]protocol.Entry, len(es))
	for i, e := range es {
		out[i] = *e
	}
	return out
}

type commitOpts struct {
	force      bool   // issue a version even without a change (heartbeat)
	minVersion uint64 // the new version is above this (version jump)
}

// commit saves and publishes a new version of d when its audience moved past
// the door's published audience version (or when forced): the state is saved
// first, and only then the version becomes visible to ForSync and watchers.
// On a save failure nothing is published and the door is retried later.
func (c *Compiler) commit(ctx context.Context, d *door, o commitOpts) error {
	st, ok := c.prepare(d, o)
	if !ok {
		return nil
	}
	if err := c.cfg.States.SaveWhitelistState(ctx, st); err != nil {
		return c.saveFailed(d, st, err)
	}
	c.publish(d, st)
	return nil
}

// maxBatch is how many door states one SaveWhitelistStates call saves.
const maxBatch = 1000

// commitAll commits doors (sorted by id) as commit does, saving their states
// in batches of maxBatch when States is a BatchStates. A batch that fails is
// saved door by door, so that one door's failure holds back only that door.
func (c *Compiler) commitAll(ctx context.Context, doors []*door, force func(*door) bool) error {
	type prepared struct {
		d  *door
		st domain.WhitelistState
	}
	var todo []prepared
	for _, d := range doors {
		if st, ok := c.prepare(d, commitOpts{force: force(d)}); ok {
			todo = append(todo, prepared{d, st})
		}
	}
	batch, _ := c.cfg.States.(BatchStates)
	var errs []error
	for len(todo) > 0 {
		chunk := todo[:min(len(todo), maxBatch)]
		todo = todo[len(chunk):]
		if batch != nil && len(chunk) > 1 {
			sts := make([]domain.WhitelistState, len(chunk))
			for i, p := range chunk {
				sts[i] = p.st
			}
			err := batch.SaveWhitelistStates(ctx, sts)
			if err == nil {
				for _, p := range chunk {
					c.publish(p.d, p.st)
				}
				continue
			}
			c.log.Warn("whitelist: saving a batch of door versions failed; saving them one by one", "doors", len(chunk), "error", err)
		}
		for _, p := range chunk {
			if err := c.cfg.States.SaveWhitelistState(ctx, p.st); err != nil {
				errs = append(errs, c.saveFailed(p.d, p.st, err))
				continue
			}
			c.publish(p.d, p.st)
		}
	}
	return errors.Join(errs...)
}

// prepare returns the state of d's next version, or false when d has
// nothing to publish.
func (c *Compiler) prepare(d *door, o commitOpts) (domain.WhitelistState, bool) {
	a := d.aud
	if d.caud == a && d.cav == a.version && d.committedSecure == d.requireSecure && d.committedHeldOpen == d.heldOpen && !o.force && !d.resetLog && o.minVersion <= d.version {
		delete(c.unsaved, d)
		return domain.WhitelistState{}, false
	}
	next := max(d.version, o.minVersion) + 1
	return domain.WhitelistState{Door: d.d.ID, Version: next, Hash: d.stateHash(), IssuedMs: c.now.UnixMilli()}, true
}

func (c *Compiler) saveFailed(d *door, st domain.WhitelistState, err error) error {
	c.met.saveErrors.Inc()
	c.unsaved[d] = true
	c.log.Error("whitelist: saving a door's version failed; it is retried and not published meanwhile",
		"door", d.d.ID, "version", st.Version, "error", err)
	return fmt.Errorf("whitelist: save door %s version %d: %w", d.d.ID, st.Version, err)
}

// publish makes the saved state st d's published version.
func (c *Compiler) publish(d *door, st domain.WhitelistState) {
	delete(c.unsaved, d)
	a := d.aud
	base, next := d.version, st.Version
	reset := d.resetLog || next != base+1 || d.caud != a
	d.version, d.hash, d.issued = next, st.Hash, c.now
	d.caud, d.cav, d.resetLog, d.committedSecure = a, a.version, false, d.requireSecure
	d.committedHeldOpen = d.heldOpen
	d.record(next, a.version, reset, c.cfg.MaxLogDeltas)
	c.met.versions.Inc()
	c.log.Debug("whitelist: new version", "door", d.d.ID, "version", next,
		"center", a.key.center, "room", a.key.room, "audience_version", a.version)
	c.notify(Update{Door: d.d.ID, Base: base, Version: next})
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedDoors(m map[*door]bool) []*door {
	ds := make([]*door, 0, len(m))
	for d := range m {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].d.ID < ds[j].d.ID })
	return ds
}
