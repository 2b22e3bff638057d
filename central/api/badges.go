package api

import (
	"errors"
	"net/http"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Who may attach a card to whose rights.
//
// A badge carries all of its member's rights, so attaching one is granting
// them. A caller may therefore enroll (create, or move to another member,
// or un-revoke) a badge only for a member whose rights they could grant
// themselves:
//
//   - the cooperative (admin): anyone;
//   - a center's manager: members of their center, unless the member is
//     staff of the network or of another center (only the cooperative, or
//     that center, grants those rights);
//   - a technician: members of their centers who are no staff at all
//     (technicians grant no staff rights; the manager enrolls staff badges).
//
// Every badge records the API token that added it (Badge.AddedBy). A
// technician sees, revokes and removes exactly the badges they added for
// members of their centers (the centers bound a token id that an admin
// might give again to another token); the center's manager sees every badge
// of their center's members, with who added it (GET /badges?added_by=TOKEN
// lists one token's).
//
// A member outside the caller's centers is answered as a missing one.

// mayEnroll checks that the caller may attach a badge to member's rights.
func (s *Server) mayEnroll(r *http.Request, p *principal, member string) error {
	if err := s.badgeMember(r, p, member); err != nil || p.admin() {
		return err
	}
	pg, err := s.st.ListStaff(r.Context(), store.StaffFilter{MemberID: member, PageRequest: store.PageRequest{Limit: store.MaxLimit}})
	if err != nil {
		return err
	}
	for _, st := range pg.Items {
		where := "of center " + st.CenterID
		if st.CenterID == "" {
			where = "of the whole network"
		}
		switch {
		case p.Role == store.RoleTechnician:
			return errForbidden("member %s is staff %s: a technician enrolls badges of members without staff rights only; the center's manager enrolls staff badges", member, where)
		case !p.in(st.CenterID):
			return errForbidden("member %s is staff %s: only the cooperative enrolls badges with rights beyond your center", member, where)
		}
	}
	return nil
}

// seesBadge checks that the caller may see (and revoke) badge x: a
// technician the badges they added, a manager the badges of their center's
// members. Others' badges are answered as missing ones.
func (s *Server) seesBadge(r *http.Request, p *principal, x domain.Badge) error {
	switch {
	case p.admin():
		return nil
	case p.Role == store.RoleTechnician && x.AddedBy != p.ID:
		return hidden("badge", x.UID)
	}
	err := s.badgeMember(r, p, x.MemberID)
	if errors.Is(err, store.ErrMissingRef) {
		return hidden("badge", x.UID)
	}
	return err
}

// badgeFilter scopes a badge list to what the caller sees.
func badgeFilter(p *principal, f *store.BadgeFilter) (none bool) {
	switch {
	case p.admin():
	case p.Role == store.RoleTechnician:
		if f.AddedBy != "" && f.AddedBy != p.ID {
			return true
		}
		f.AddedBy, f.HomeCenterIDs = p.ID, p.scope()
	default:
		f.HomeCenterIDs = p.scope()
	}
	return false
}

// grants reports whether changing old into x could give rights: anything
// but revoking the same member's badge.
func grants(old, x domain.Badge) bool {
	return !(x.MemberID == old.MemberID && x.Revoked)
}
