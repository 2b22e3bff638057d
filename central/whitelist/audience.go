package whitelist

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// audienceKey names the doors that share one list: the entrances of a
// center (room empty, exit doors included: a door's exit flag and name are
// nothing a whitelist carries), or the doors of one room.
type audienceKey struct{ center, room string }

// audience is the compiled whitelist shared by the doors of one audienceKey,
// with its own in-memory version line (never saved, never sent: doors carry
// their own versions, see door).
//
// entries is the content at version plus the changes recorded in pending
// (for every UID changed since version, its value at version; nil: absent),
// which commitAudience turns into the next version. Entries are never
// modified in place: a change replaces the pointer, so readers may keep
// pointers outside the lock.
type audience struct {
	key     audienceKey
	entries map[protocol.UID]*protocol.Entry
	sum     [4]uint64 // sum of the entries' digests, lane by lane
	pending map[protocol.UID]*protocol.Entry
	fresh   bool // created and not compiled yet: the first commit is version 1, without a log step

	version    uint64
	hash       string   // contentHash at version, shared by the doors' saved states
	log        []*delta // contiguous: log[i].version == log[i+1].base
	logChanges int
	doors      map[*door]bool

	// The sorted, encoded entries of version encodedVersion, made for the
	// first door that asked for a snapshot (see encodedLocked).
	encoded        *protocol.SnapshotEntries
	encodedVersion uint64
	encodedAt      time.Time
}

// delta is one version step of an audience.
type delta struct {
	base, version uint64
	changes       []change // one per UID; a slice, not a map: most steps change one or two entries
}

// interned is an entry shared by the audiences where it is equal, with its
// digest.
type interned struct {
	e      *protocol.Entry
	digest [32]byte
}

// change is the value of a UID after a step (nil: removed) and before it
// (nil: absent).
type change struct {
	uid       protocol.UID
	e, before *protocol.Entry
}

func newAudience(k audienceKey) *audience {
	return &audience{key: k, entries: map[protocol.UID]*protocol.Entry{},
		fresh: true, version: 1, doors: map[*door]bool{}}
}

// set makes uid's entry e (nil: remove; digest is e's entryDigest), keeping the indexes, the hash sum
// and the pending record (not kept while the audience is fresh: its whole
// content becomes version 1).
func (a *audience) set(uid protocol.UID, e *protocol.Entry, digest [32]byte) {
	old := a.entries[uid]
	if entryEqual(old, e) {
		return
	}
	if !a.fresh {
		if a.pending == nil {
			a.pending = map[protocol.UID]*protocol.Entry{}
		}
		if _, ok := a.pending[uid]; !ok {
			a.pending[uid] = old
		}
	}
	if old != nil {
		sumSub(&a.sum, entryDigest(old))
		delete(a.entries, uid)
	}
	if e != nil {
		sumAdd(&a.sum, digest)
		a.entries[uid] = e
	}
}

// contentHash names the content: center, room, entry count and the sum of
// entry digests. It does not depend on the order of anything. It is the hash
// every door of the audience saves (it was, per door, the same function of
// the door's center, room and entries).
func (a *audience) contentHash() string {
	b := []byte("swc-whitelist-v1\n" + a.key.center + "\n" + a.key.room + "\n" + strconv.Itoa(len(a.entries)) + "\n")
	for _, v := range a.sum {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// commitAudience turns the pending changes into the audience's next version
// and reports whether there was one. A fresh audience takes its content as
// version 1 without a log step. pin is the oldest audience version an
// unsaved door still publishes: the log keeps every step after it, and its
// newest step, whatever the limits, so that the door's content can be
// rebuilt.
func (c *Compiler) commitAudience(a *audience, pin uint64) bool {
	if a.fresh {
		a.fresh, a.pending = false, nil
		a.hash = a.contentHash()
		return true
	}
	var changes []change
	for uid, before := range a.pending {
		after := a.entries[uid]
		if entryEqual(before, after) {
			continue
		}
		changes = append(changes, change{uid: uid, e: after, before: before})
	}
	a.pending = nil
	if len(changes) == 0 {
		return false
	}
	a.log = append(a.log, &delta{base: a.version, version: a.version + 1, changes: changes})
	a.version++
	a.encoded = nil
	a.hash = a.contentHash()
	a.logChanges += len(changes)
	// The newest step stays whatever its size: a door whose save fails right
	// after this step still publishes the version before it.
	for len(a.log) > 1 && a.log[0].base < pin && (len(a.log) > c.cfg.MaxLogDeltas || a.logChanges > c.cfg.MaxLogChanges) {
		a.logChanges -= len(a.log[0].changes)
		a.log[0] = nil
		a.log = a.log[1:]
	}
	return true
}

// entriesAt returns the audience's entries at version v (at most its
// version), rebuilt from the log when v is older; ok is false when the log
// no longer reaches back to v.
func (a *audience) entriesAt(v uint64) (es []*protocol.Entry, ok bool) {
	var undo map[protocol.UID]*protocol.Entry
	for uid, before := range a.pending {
		if undo == nil {
			undo = map[protocol.UID]*protocol.Entry{}
		}
		undo[uid] = before
	}
	if v < a.version {
		i, found := slices.BinarySearchFunc(a.log, v, func(d *delta, v uint64) int { return cmp.Compare(d.base, v) })
		if !found {
			return nil, false
		}
		if undo == nil {
			undo = map[protocol.UID]*protocol.Entry{}
		}
		for j := len(a.log) - 1; j >= i; j-- {
			for _, ch := range a.log[j].changes {
				undo[ch.uid] = ch.before
			}
		}
	}
	out := make([]*protocol.Entry, 0, len(a.entries))
	for uid, e := range a.entries {
		if before, ok := undo[uid]; ok {
			if before != nil {
				out = append(out, before)
			}
			continue
		}
		out = append(out, e)
	}
	for uid, before := range undo {
		if _, ok := a.entries[uid]; !ok && before != nil {
			out = append(out, before)
		}
	}
	return out, true
}

// merged merges the log steps from version from to version to into one
// change per UID, each with its value at from (before) and at to (e). It
// reports false when the log does not reach back to from.
func (a *audience) merged(from, to uint64) (map[protocol.UID]change, bool) {
	merged := map[protocol.UID]change{}
	if from == to {
		return merged, true
	}
	i, found := slices.BinarySearchFunc(a.log, from, func(d *delta, v uint64) int { return cmp.Compare(d.base, v) })
	if !found {
		return nil, false
	}
	for _, step := range a.log[i:] {
		if step.version > to {
			break
		}
		for _, ch := range step.changes {
			uid := ch.uid
			if prev, ok := merged[uid]; ok {
				ch.before = prev.before // the value at from
			}
			merged[uid] = ch
		}
	}
	return merged, true
}

// recompute sets the entries of one member in one audience from the domain:
// every badge of a member with a right there, with the member's grants, or
// listed as revoked (a revoked badge, or a suspended member); nothing for a
// member without a right or unknown. gone are badges that left the member
// (moved to another member, or deleted): listed under the member, they are
// removed. An audience keeps no index by member: an entry names its member.
func (c *Compiler) recompute(a *audience, member string, gone []protocol.UID) {
	c.recomputeIn(a, member, gone, c.interned)
}

// recomputeIn is recompute interning entries in table.
func (c *Compiler) recomputeIn(a *audience, member string, gone []protocol.UID, table map[protocol.UID]interned) {
	c.met.recomputes.Inc()
	m := c.knownMember(member)
	badges := c.badgesOf(member)
	var grants []protocol.Grant
	if m != nil && len(badges) > 0 {
		grants = c.grants(a.key, member)
	}
	for _, uid := range gone {
		if e := a.entries[uid]; e != nil && e.Member == member {
			a.set(uid, nil, [32]byte{})
		}
	}
	for _, b := range badges {
		uid := b.uid
		if len(grants) == 0 {
			if e := a.entries[uid]; e != nil && e.Member == member {
				a.set(uid, nil, [32]byte{})
			}
			continue
		}
		e := &protocol.Entry{UID: uid, Member: member}
		if b.revoked || !m.active {
			e.Revoked = true
		} else {
			e.Grants = grants
		}
		c.secureEntry(e, b)
		last, ok := table[uid]
		if ok && entryEqual(last.e, e) {
			e = last.e // the same entry as in another audience: shared
		} else {
			last = interned{e: e, digest: entryDigest(e)}
			table[uid] = last
		}
		a.set(uid, e, last.digest)
	}
}

// grants computes the member's rights at the doors of audience k within the
// horizon, in the order of the package documentation, cut to
// protocol.MaxGrantsPerEntry.
func (c *Compiler) grants(k audienceKey, member string) []protocol.Grant {
	center, room := k.center, k.room
	until := c.now.Add(c.cfg.Horizon)
	var gs []protocol.Grant
	if c.staffAt[center][member] || c.staffAt[""][member] {
		gs = append(gs, protocol.Grant{Kind: protocol.GrantStaff})
	}
	if room == "" {
		start := len(gs)
		for _, ps := range [][]*domain.Pass{c.passesAt[center][member], c.passesAt[""][member]} {
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
			"center", center, "room", room, "member", member, "grants", len(gs), "kept", protocol.MaxGrantsPerEntry)
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
