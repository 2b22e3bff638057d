package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Badges: the list the viewer sees (a technician the badges they added for
// their centers' members, a manager their center's members' badges, the
// cooperative all), assign, move, revoke, CSV export, and learn mode.
//
// Learn mode: the viewer chooses a door of their centers; the page then
// waits (static/console.js reloads it every two seconds) for the door to
// report a badge it does not know (a tap denied_unknown_badge, through the
// ingest) within learnWindow of the start, and offers that UID for
// assignment — nobody types a UID. The start is carried in the page's
// address (since, in ms), so any replica answers the same.

// scopedBadges lists the badges the viewer sees whose UID or member id
// contains q (lower case); revoked "yes"/"no" filters.
func (c *console) scopedBadges(r *http.Request, v *viewer, q, revoked string) ([]domain.Badge, error) {
	f := store.BadgeFilter{}
	switch revoked {
	case "yes":
		f.Revoked = new(bool)
		*f.Revoked = true
	case "no":
		f.Revoked = new(bool)
	}
	if api.ScopeBadges(v.Token, &f) {
		return nil, nil
	}
	ctx := r.Context()
	all, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Badge], error) {
		f.PageRequest = p
		return c.w.st.ListBadges(ctx, f)
	})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, b := range all {
		if matches(q, string(b.UID), b.MemberID) {
			out = append(out, b)
		}
	}
	return out, nil
}

func (c *console) badges(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	revoked := r.URL.Query().Get("revoked")
	all, err := c.scopedBadges(r, v, strings.ToLower(q), revoked)
	if err != nil {
		return err
	}
	items, pg := pageSlice(r, all)
	c.w.render(rw, r, http.StatusOK, "console_badges", v, map[string]any{"Query": q, "Revoked": revoked, "Badges": items, "Pager": pg,
		"CSV": queryWith("/badges.csv", "q", q, "revoked", revoked), "Flash": c.w.takeFlash(r, v)})
	return nil
}

func (c *console) badgesCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	bs, err := c.scopedBadges(r, v, strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q"))), r.URL.Query().Get("revoked"))
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(bs))
	for _, b := range bs {
		rows = append(rows, []string{string(b.UID), b.MemberID, strconv.FormatBool(b.Revoked), b.AddedBy})
	}
	return writeCSV(rw, "badges.csv", []string{"uid", "member_id", "revoked", "added_by"}, rows)
}

// badgeOf returns the badge {uid} when the viewer sees it.
func (c *console) badgeOf(r *http.Request, v *viewer) (domain.Badge, error) {
	uid, err := protocol.ParseUID(r.PathValue("uid"))
	if err != nil {
		return domain.Badge{}, hidden("badge", r.PathValue("uid"))
	}
	b, err := c.w.st.Badge(r.Context(), uid)
	if err != nil {
		return b, err
	}
	return b, api.SeesBadge(r, c.w.st, v.Token, b)
}

// afterBadge is where a badge change goes back to: the member's page for
// those who see members, else the badge list.
func afterBadge(r *http.Request, v *viewer, member string) string {
	if to := r.PostFormValue("back"); to != "" {
		return localPath(to, "/badges")
	}
	if v.SeesEvents() && member != "" {
		return "/members/" + member
	}
	return "/badges"
}

// failTo is where a refused badge change goes back to: the form's retry
// (the learn page it came from) or back, else the badge list.
func failTo(r *http.Request) string {
	if to := r.PostFormValue("retry"); to != "" {
		return localPath(to, "/badges")
	}
	return localPath(r.PostFormValue("back"), "/badges")
}

// badgeAssign attaches a new badge (form: uid, member) with the API's rule.
func (c *console) badgeAssign(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	member := strings.TrimSpace(r.PostFormValue("member"))
	uid, err := protocol.ParseUID(strings.TrimSpace(r.PostFormValue("uid")))
	to := failTo(r)
	if err != nil {
		return c.back(rw, r, v, to, "console.refused", "why", "uid: "+err.Error())
	}
	if protocol.ValidID(member) != nil {
		return c.back(rw, r, v, to, "console.refused", "why", "member: required")
	}
	if err := api.MayEnroll(r, c.w.st, v.Token, member); err != nil {
		return c.refusedAPI(rw, r, v, to, err)
	}
	b := domain.Badge{UID: uid, MemberID: member, AddedBy: v.ID}
	if err := c.w.st.CreateBadge(r.Context(), b); err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, afterBadge(r, v, member), "console.badge_assigned", "uid", string(uid), "member", member)
}

// refusedAPI shows a refusal of the API's rules as a flash message.
func (c *console) refusedAPI(rw http.ResponseWriter, r *http.Request, v *viewer, to string, err error) error {
	var ae *api.Error
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		return c.back(rw, r, v, to, "console.refused", "why", ae.Message)
	}
	return c.refused(rw, r, v, to, err)
}

// badgeMove gives the badge to another member (and un-revokes it).
func (c *console) badgeMove(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	b, err := c.badgeOf(r, v)
	if err != nil {
		return err
	}
	member := strings.TrimSpace(r.PostFormValue("member"))
	to := failTo(r)
	if b.MemberID != "" && v.SeesEvents() && r.PostFormValue("retry") == "" && r.PostFormValue("back") == "" {
		to = "/members/" + b.MemberID // the form of the badge's member page
	}
	if protocol.ValidID(member) != nil {
		return c.back(rw, r, v, to, "console.refused", "why", "member: required")
	}
	if err := api.MayEnroll(r, c.w.st, v.Token, member); err != nil {
		return c.refusedAPI(rw, r, v, to, err)
	}
	b.MemberID, b.Revoked = member, false
	if err := c.w.st.UpdateBadge(r.Context(), b); err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, afterBadge(r, v, member), "console.badge_moved", "uid", string(b.UID), "member", member)
}

// badgeRevoke revokes the badge (it stays known, so doors deny it as
// revoked).
func (c *console) badgeRevoke(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	b, err := c.badgeOf(r, v)
	if err != nil {
		return err
	}
	b.Revoked = true
	if err := c.w.st.UpdateBadge(r.Context(), b); err != nil {
		return err
	}
	return c.back(rw, r, v, afterBadge(r, v, b.MemberID), "console.badge_revoked", "uid", string(b.UID))
}

// learnStart starts learn mode at a door (form: door, member) and goes to
// the waiting page.
func (c *console) learnStart(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := c.seesDoor(r, v, strings.TrimSpace(r.PostFormValue("door")))
	if err != nil {
		return err
	}
	member := strings.TrimSpace(r.PostFormValue("member"))
	http.Redirect(rw, r, queryWith("/badges/learn", "door", d.ID, "member", member,
		"since", strconv.FormatInt(c.w.now().UnixMilli(), 10)), http.StatusSeeOther)
	return nil
}

// learnPage chooses the door, then waits for the unknown badge and offers it.
func (c *console) learnPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	q := r.URL.Query()
	ctx := r.Context()
	doors, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
		return c.w.st.ListDoors(ctx, store.DoorFilter{CenterIDs: v.scope(), PageRequest: p})
	})
	if err != nil {
		return err
	}
	data := map[string]any{"Doors": doors, "Member": q.Get("member"), "Flash": c.w.takeFlash(r, v), "State": "choose", "Self": r.URL.RequestURI()}
	if id := q.Get("door"); id != "" {
		d, err := c.seesDoor(r, v, id)
		if err != nil {
			return err
		}
		since, err := strconv.ParseInt(q.Get("since"), 10, 64)
		now := c.w.now().UnixMilli()
		if err != nil || since > now || now-since > learnKept.Milliseconds() {
			return pageErr(http.StatusBadRequest, "console.learn_bad_start")
		}
		data["Door"] = d
		uid, found, err := c.unknownBadge(r, d.ID, since)
		if err != nil {
			return err
		}
		left := since + learnWindow.Milliseconds() - now
		switch {
		case found:
			data["State"], data["UID"] = "found", string(uid)
			if b, err := c.w.st.Badge(ctx, uid); err == nil {
				data["Known"] = api.SeesBadge(r, c.w.st, v.Token, b) == nil
				data["State"] = "known"
			}
		case left > 0:
			data["State"], data["Left"] = "waiting", (left+999)/1000
		default:
			data["State"] = "expired"
		}
	}
	c.w.render(rw, r, http.StatusOK, "console_learn", v, data)
	return nil
}
