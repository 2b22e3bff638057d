package whitelist

import (
	"slices"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The compiler holds every member and badge of the network, most of them
// (members with neither booking, pass nor staff grant) listed at no door:
// it keeps of each only what a whitelist entry needs, in two small records
// (no copy of the domain objects: no name, email or enrolling principal).

// member is a member id the compiler knows of: a member (known), or an id
// that badges name while the member is unknown (deleted), or both.
type member struct {
	id     string
	badges []*badge // most members have one
	known  bool     // the member exists
	active bool     // its status is active (a suspended member's badges are listed revoked)
}

// badge is what an entry needs of a badge.
type badge struct {
	uid        protocol.UID
	m          *member
	card       protocol.CardType
	keyVersion uint8
	revoked    bool
}

// memberOf returns the record of id, created (not known, no badges) when
// missing.
func (c *Compiler) memberOf(id string) *member {
	m := c.members[id]
	if m == nil {
		m = &member{id: id}
		c.members[id] = m
	}
	return m
}

// setMember records a valid member.
func (c *Compiler) setMember(dm *domain.Member) {
	m := c.memberOf(dm.ID)
	m.known, m.active = true, dm.Status == domain.MemberActive
}

// forgetMember records that member id no longer exists; its badges stay
// indexed (listed nowhere) until they are deleted or move.
func (c *Compiler) forgetMember(id string) {
	if m := c.members[id]; m != nil {
		m.known, m.active = false, false
		c.dropIfEmpty(m)
	}
}

func (c *Compiler) dropIfEmpty(m *member) {
	if !m.known && len(m.badges) == 0 && c.members[m.id] == m {
		delete(c.members, m.id)
	}
}

// knownMember returns the member if it exists, else nil.
func (c *Compiler) knownMember(id string) *member {
	if m := c.members[id]; m != nil && m.known {
		return m
	}
	return nil
}

// badgesOf returns the badges that name member id.
func (c *Compiler) badgesOf(id string) []*badge {
	if m := c.members[id]; m != nil {
		return m.badges
	}
	return nil
}

// addBadge indexes a valid badge.
func (c *Compiler) addBadge(db *domain.Badge) {
	m := c.memberOf(db.MemberID)
	b := &badge{uid: db.UID, m: m, card: db.Card, keyVersion: db.KeyVersion, revoked: db.Revoked}
	c.badges[b.uid] = b
	m.badges = append(m.badges, b)
}

// removeBadge forgets an indexed badge.
func (c *Compiler) removeBadge(b *badge) {
	delete(c.badges, b.uid)
	delete(c.interned, b.uid)
	m := b.m
	m.badges = slices.DeleteFunc(m.badges, func(x *badge) bool { return x == b })
	if len(m.badges) == 0 {
		m.badges = nil
	}
	c.dropIfEmpty(m)
}

// listable bounds the members a whitelist may list: those with a booking,
// a pass or a staff grant (counted once per kind).
func (c *Compiler) listable() int {
	return len(c.bookingsByMember) + len(c.passesByMember) + len(c.staffByMember)
}
