package whitelist

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// door is one door's compiled whitelist.
//
// entries is the desired content: what the domain says now. pending holds,
// for every UID changed since the last saved version, its value in that
// version (nil: absent), so that the committed content is entries with
// pending undone. Entries are never modified in place: a change replaces
// the pointer, so readers may keep pointers outside the lock.
type door struct {
	d        domain.Door
	entries  map[protocol.UID]*protocol.Entry
	byMember map[string]map[protocol.UID]bool
	sum      [4]uint64 // sum of the entries' digests, lane by lane
	pending  map[protocol.UID]*protocol.Entry
	resetLog bool // the next version drops the log (new door, new center or room, version jump)

	version                        uint64
	hash                           string
	issued                         time.Time
	committedCenter, committedRoom string
	// requireSecure is the door's center's require_secure_credentials
	// policy; committedSecure the one of the published version.
	requireSecure, committedSecure bool

	log        []*delta // contiguous: log[i].version == log[i+1].base
	logChanges int
	snap       *snapshot
}

// delta is one version step in a door's log.
type delta struct {
	base, version uint64
	changes       map[protocol.UID]change
}

// change is the value of a UID after a step (nil: removed) and whether it was
// present before the step.
type change struct {
	e       *protocol.Entry
	existed bool
}

// snapshot caches the signed parts of one version.
type snapshot struct {
	version uint64
	issued  time.Time
	parts   [][]byte
	entries int
}

func newDoor(d domain.Door) *door {
	return &door{d: d, entries: map[protocol.UID]*protocol.Entry{}, byMember: map[string]map[protocol.UID]bool{}}
}

// set makes uid's entry e (nil: remove), keeping the indexes, the hash sum
// and the pending record.
func (d *door) set(uid protocol.UID, e *protocol.Entry) {
	old := d.entries[uid]
	if entryEqual(old, e) {
		return
	}
	if d.pending == nil {
		d.pending = map[protocol.UID]*protocol.Entry{}
	}
	if _, ok := d.pending[uid]; !ok {
		d.pending[uid] = old
	}
	if old != nil {
		sumSub(&d.sum, entryDigest(old))
		if ms := d.byMember[old.Member]; ms != nil {
			delete(ms, uid)
			if len(ms) == 0 {
				delete(d.byMember, old.Member)
			}
		}
		delete(d.entries, uid)
	}
	if e != nil {
		sumAdd(&d.sum, entryDigest(e))
		d.entries[uid] = e
		ms := d.byMember[e.Member]
		if ms == nil {
			ms = map[protocol.UID]bool{}
			d.byMember[e.Member] = ms
		}
		ms[uid] = true
	}
}

// recompute sets the entries of one member at one door from the domain.
func (c *Compiler) recompute(d *door, member string) {
	c.met.recomputes.Inc()
	want := c.memberEntries(d, member)
	for uid := range d.byMember[member] {
		if _, ok := want[uid]; !ok {
			d.set(uid, nil)
		}
	}
	for uid, e := range want {
		d.set(uid, e)
	}
}

// memberEntries returns the entries of the member's badges at door d.
func (c *Compiler) memberEntries(d *door, member string) map[protocol.UID]*protocol.Entry {
	m := c.members[member]
	badges := c.badgesByMember[member]
	if m == nil || len(badges) == 0 {
		return nil
	}
	grants := c.grants(d, member)
	if len(grants) == 0 {
		return nil
	}
	suspended := m.Status != domain.MemberActive
	out := make(map[protocol.UID]*protocol.Entry, len(badges))
	for uid, b := range badges {
		e := &protocol.Entry{UID: uid, Member: member}
		if b.Revoked || suspended {
			e.Revoked = true
		} else {
			e.Grants = grants
		}
		c.secureEntry(e, b)
		out[uid] = e
	}
	return out
}

// grants computes the member's rights at door d within the horizon, in the
// order of the package documentation, cut to protocol.MaxGrantsPerEntry.
func (c *Compiler) grants(d *door, member string) []protocol.Grant {
	center, room := d.d.CenterID, d.d.RoomID
	until := c.now.Add(c.cfg.Horizon)
	var gs []protocol.Grant
	if c.staffAt[center][member] || c.staffAt[""][member] {
		gs = append(gs, protocol.Grant{Kind: protocol.GrantStaff})
	}
	if room == "" {
		start := len(gs)
		for _, ps := range []map[string]*domain.Pass{c.passesAt[center][member], c.passesAt[""][member]} {
			for _, p := range ps {
				if p.ValidUntil.After(c.now) && !p.ValidFrom.After(until) {
					gs = append(gs, passGrant(p))
				}
			}
		}
		slices.SortFunc(gs[start:], compareGrants)
	}
	start := len(gs)
	for _, b := range c.bookingsAt[center][member] {
		if b.End.After(c.now) && !b.Start.After(until) {
			gs = append(gs, protocol.Grant{Kind: protocol.GrantBooking, From: floorSec(b.Start), To: ceilSec(b.End), Room: b.RoomID, Ref: b.ID})
		}
	}
	bookings := gs[start:]
	slices.SortFunc(bookings, func(a, b protocol.Grant) int {
		if room != "" && (a.Room == room) != (b.Room == room) {
			if a.Room == room {
				return -1
			}
			return 1
		}
		return compareGrants(a, b)
	})
	if len(gs) > protocol.MaxGrantsPerEntry {
		c.met.truncated.Inc()
		c.log.Warn("whitelist: too many grants for one badge; the latest are left out until earlier ones end",
			"door", d.d.ID, "member", member, "grants", len(gs), "kept", protocol.MaxGrantsPerEntry)
		gs = gs[:protocol.MaxGrantsPerEntry:protocol.MaxGrantsPerEntry]
	}
	return gs
}

// maxGrantSec is the latest grant time the protocol accepts (2200-01-01).
var maxGrantSec = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// passGrant makes a pass grant; bounds outside what the protocol carries
// (before 1970, after 2200) become unbounded.
func passGrant(p *domain.Pass) protocol.Grant {
	g := protocol.Grant{Kind: protocol.GrantPass, From: floorSec(p.ValidFrom), To: ceilSec(p.ValidUntil), Ref: p.ID}
	if g.From < 0 {
		g.From = 0
	}
	if g.To > maxGrantSec {
		g.To = 0
	}
	return g
}

func floorSec(t time.Time) int64 { return t.Unix() }

func ceilSec(t time.Time) int64 {
	if t.Nanosecond() != 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

func compareGrants(a, b protocol.Grant) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Room, b.Room), cmp.Compare(a.Ref, b.Ref))
}

func entryEqual(a, b *protocol.Entry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID && a.Member == b.Member && a.Revoked == b.Revoked && slices.Equal(a.Grants, b.Grants) &&
		a.Card == b.Card && slices.Equal(a.Keys, b.Keys)
}

// entryDigest is the SHA-256 of a length-prefixed canonical encoding.
func entryDigest(e *protocol.Entry) [32]byte {
	b := make([]byte, 0, 64+len(e.Grants)*48)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(string(e.UID))
	str(e.Member)
	if e.Revoked {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Grants)))
	for _, g := range e.Grants {
		str(string(g.Kind))
		b = binary.AppendVarint(b, g.From)
		b = binary.AppendVarint(b, g.To)
		str(g.Room)
		str(g.Ref)
	}
	if e.Card.Secure() { // nothing more for a UID-only badge: its digest is as before
		str(string(e.Card))
		for _, k := range e.Keys {
			b = append(b, k.Version)
			b = append(b, k.Key[:]...)
			b = binary.AppendVarint(b, k.NotAfterMs)
		}
	}
	return sha256.Sum256(b)
}

func sumAdd(s *[4]uint64, d [32]byte) {
	for i := range s {
		s[i] += binary.LittleEndian.Uint64(d[i*8:])
	}
}

func sumSub(s *[4]uint64, d [32]byte) {
	for i := range s {
		s[i] -= binary.LittleEndian.Uint64(d[i*8:])
	}
}

// contentHash names the desired content: center, room, entry count and the
// sum of entry digests. It does not depend on the order of anything.
func (d *door) contentHash() string {
	b := []byte("swc-whitelist-v1\n" + d.d.CenterID + "\n" + d.d.RoomID + "\n" + strconv.Itoa(len(d.entries)) + "\n")
	if d.requireSecure {
		b = append(b, "require_secure\n"...)
	}
	for _, v := range d.sum {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// committedEntries returns the entries of the published version: the desired
// entries with unsaved changes undone.
func (d *door) committedEntries() []*protocol.Entry {
	out := make([]*protocol.Entry, 0, len(d.entries))
	for uid, e := range d.entries {
		if before, ok := d.pending[uid]; ok {
			if before != nil {
				out = append(out, before)
			}
			continue
		}
		out = append(out, e)
	}
	for uid, before := range d.pending {
		if _, ok := d.entries[uid]; !ok && before != nil {
			out = append(out, before)
		}
	}
	return out
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

// commit saves and publishes a new version of d when its content changed (or
// when forced): the state is saved first, and only then the version becomes
// visible to ForSync and watchers. On a save failure nothing is published and
// the door is retried later.
func (c *Compiler) commit(ctx context.Context, d *door, o commitOpts) error {
	changes := make(map[protocol.UID]change, len(d.pending))
	for uid, before := range d.pending {
		after := d.entries[uid]
		if entryEqual(before, after) {
			continue
		}
		changes[uid] = change{e: after, existed: before != nil}
	}
	if len(changes) == 0 && !o.force && !d.resetLog && o.minVersion <= d.version {
		d.pending = nil
		delete(c.unsaved, d)
		return nil
	}
	base := d.version
	next := max(d.version, o.minVersion) + 1
	st := domain.WhitelistState{Door: d.d.ID, Version: next, Hash: d.contentHash(), IssuedMs: c.now.UnixMilli()}
	if err := c.cfg.States.SaveWhitelistState(ctx, st); err != nil {
		c.met.saveErrors.Inc()
		c.unsaved[d] = true
		c.log.Error("whitelist: saving a door's version failed; it is retried and not published meanwhile",
			"door", d.d.ID, "version", next, "error", err)
		return fmt.Errorf("whitelist: save door %s version %d: %w", d.d.ID, next, err)
	}
	delete(c.unsaved, d)
	d.version, d.hash, d.issued = next, st.Hash, c.now
	d.committedCenter, d.committedRoom = d.d.CenterID, d.d.RoomID
	d.committedSecure = d.requireSecure
	d.pending = nil
	d.snap = nil
	if d.resetLog || next != base+1 {
		d.log, d.logChanges, d.resetLog = nil, 0, false
	} else {
		d.log = append(d.log, &delta{base: base, version: next, changes: changes})
		d.logChanges += len(changes)
		for len(d.log) > 0 && (len(d.log) > c.cfg.MaxLogDeltas || d.logChanges > c.cfg.MaxLogChanges) {
			d.logChanges -= len(d.log[0].changes)
			d.log[0] = nil
			d.log = d.log[1:]
		}
	}
	c.met.versions.Inc()
	c.log.Debug("whitelist: new version", "door", d.d.ID, "version", next, "changes", len(changes))
	c.notify(Update{Door: d.d.ID, Base: base, Version: next})
	return nil
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
