package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// memberFilter is the viewer's member scope, as in the API: a manager
// handles the local members of their center; the cooperative, everyone.
func memberFilter(v *viewer) store.MemberFilter {
	if v.Admin() {
		return store.MemberFilter{}
	}
	return store.MemberFilter{HomeCenterIDs: v.scope()}
}

func seesMember(v *viewer, m domain.Member) bool { return v.Admin() || v.Sees(m.HomeCenterID) }

// members looks members up by badge UID, or by part of their id, name or
// e-mail address, a page at a time (console.go's pageSlice).
func (w *Web) members(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	ctx, cancel := w.context(r)
	defer cancel()
	var found []domain.Member
	if uid, err := protocol.ParseUID(q); err == nil && q != "" {
		b, err := w.st.Badge(ctx, uid)
		if err == nil {
			if m, err := w.st.Member(ctx, b.MemberID); err == nil && seesMember(v, m) {
				found = append(found, m)
			}
		}
	}
	if len(found) == 0 {
		needle := strings.ToLower(q)
		f := memberFilter(v)
		f.Limit = store.MaxLimit
		for {
			pg, err := w.st.ListMembers(ctx, f)
			if err != nil {
				return err
			}
			for _, m := range pg.Items {
				if matches(needle, m.ID, m.Name, m.Email) {
					found = append(found, m)
				}
			}
			if pg.Next == "" {
				break
			}
			f.After = pg.Next
		}
	}
	page, pgr := pageSlice(r, found)
	w.render(rw, r, http.StatusOK, "members", v, map[string]any{"Query": q, "Members": page, "Pager": pgr,
		"CSV": queryWith("/members.csv", "q", q), "Flash": w.takeFlash(r, v)})
	return nil
}

func (w *Web) memberOf(r *http.Request, v *viewer) (domain.Member, error) {
	id := r.PathValue("id")
	if err := protocol.ValidID(id); err != nil {
		return domain.Member{}, pageErr(http.StatusNotFound, "error.no_member")
	}
	m, err := w.st.Member(r.Context(), id)
	if err != nil {
		return m, err
	}
	if !seesMember(v, m) {
		return m, hidden("member", id)
	}
	return m, nil
}

// member shows a member's badges, bookings and passes, and the period's
// visits and statement.
func (w *Web) member(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	m, err := w.memberOf(r, v)
	if err != nil {
		return err
	}
	p, err := w.periodOf(r)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	badges, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Badge], error) {
		return w.st.ListBadges(ctx, store.BadgeFilter{MemberID: m.ID, PageRequest: pr})
	})
	if err != nil {
		return err
	}
	bookings, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Booking], error) {
		return w.st.ListBookings(ctx, store.BookingFilter{MemberID: m.ID, CenterIDs: v.scope(), From: p.Start(w.loc), To: p.End(w.loc), PageRequest: pr})
	})
	if err != nil {
		return err
	}
	pf := store.PassFilter{MemberID: m.ID}
	if !v.Admin() {
		pf.CoversCenter = v.Centers[0]
	}
	passes, err := store.All(ctx, func(pr store.PageRequest) (store.Page[domain.Pass], error) {
		pf.PageRequest = pr
		return w.st.ListPasses(ctx, pf)
	})
	if err != nil {
		return err
	}
	data := map[string]any{"Member": m, "Badges": badges, "Bookings": bookings, "Passes": passes, "Period": p,
		"Periods": recentPeriods(w.now(), w.loc), "Available": w.cfg.Hours != nil, "Month": w.locale(r, v).Month(p.Start(w.loc)),
		"Flash": w.takeFlash(r, v)}
	if w.cfg.Hours != nil {
		st, err := w.cfg.Hours.Statement(ctx, m.ID, p)
		if err != nil {
			return err
		}
		data["Statement"] = st
		data["CSV"] = fmt.Sprintf("/members/%s/statement.csv?period=%s", m.ID, p)
	}
	w.render(rw, r, http.StatusOK, "member", v, data)
	return nil
}

// statementCSV downloads a member's statement.
func (w *Web) statementCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	if w.cfg.Hours == nil {
		return pageErr(http.StatusServiceUnavailable, "hours.unavailable")
	}
	m, err := w.memberOf(r, v)
	if err != nil {
		return err
	}
	p, err := w.periodOf(r)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	st, err := w.cfg.Hours.Statement(ctx, m.ID, p)
	if err != nil {
		return err
	}
	var buf strings.Builder
	if err := st.WriteCSV(&buf); err != nil {
		return err
	}
	rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rw.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="statement-%s-%s.csv"`, p, m.ID))
	_, err = fmt.Fprint(rw, buf.String())
	return err
}
