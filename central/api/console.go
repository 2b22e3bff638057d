package api

import (
	"net/http"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The staff console (package web) applies the same badge rules as the API
// (see badges.go), for the token of the signed-in viewer: these are the
// API's own checks, exported so that the two can never disagree.

// MayEnroll checks that tk may attach a badge to member's rights (create,
// move to member, or un-revoke). A member outside tk's centers is answered
// as a missing one (store.ErrMissingRef, field member_id).
func MayEnroll(r *http.Request, st store.Store, tk store.Token, member string) error {
	return (&Server{st: st}).mayEnroll(r, &principal{tk}, member)
}

// SeesBadge checks that tk may see, revoke or move badge x: a technician
// the badges they added for their centers' members, a manager the badges of
// their center's members, the cooperative all. Others' badges are answered
// as missing ones (store.ErrNotFound).
func SeesBadge(r *http.Request, st store.Store, tk store.Token, x domain.Badge) error {
	return (&Server{st: st}).seesBadge(r, &principal{tk}, x)
}

// ScopeBadges narrows a badge list to what tk sees; true means it sees
// none of what f asks for.
func ScopeBadges(tk store.Token, f *store.BadgeFilter) (none bool) {
	return badgeFilter(&principal{tk}, f)
}
