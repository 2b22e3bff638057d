package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Members: create, edit (name, e-mail, home center, status), suspend and
// reinstate, passes (the cooperative's), CSV export. A manager creates and
// keeps local members of their own center, as in the API.

// scopedMembers lists the members the viewer handles whose id, name or
// e-mail contains q (lower case), in id order.
func (c *console) scopedMembers(r *http.Request, v *viewer, q string) ([]domain.Member, error) {
	ctx := r.Context()
	all, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Member], error) {
		f := memberFilter(v)
		f.PageRequest = p
		return c.w.st.ListMembers(ctx, f)
	})
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, m := range all {
		if matches(q, m.ID, m.Name, m.Email) {
			out = append(out, m)
		}
	}
	return out, nil
}

// membersCSV downloads the members the viewer handles (the list's search
// applies).
func (c *console) membersCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ms, err := c.scopedMembers(r, v, strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q"))))
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(ms))
	for _, m := range ms {
		rows = append(rows, []string{m.ID, m.Name, m.Email, m.HomeCenterID, m.Status})
	}
	return writeCSV(rw, "members.csv", []string{"id", "name", "email", "home_center_id", "status"}, rows)
}

// memberForm shows the form of a new member, or of the member {id}.
func (c *console) memberForm(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	cs, err := c.centers(r, v)
	if err != nil {
		return err
	}
	m := domain.Member{Status: domain.MemberActive}
	if len(cs) > 0 && !v.Admin() {
		m.HomeCenterID = cs[0].ID
	}
	edit := r.PathValue("id") != ""
	if edit {
		if m, err = c.w.memberOf(r, v); err != nil {
			return err
		}
	}
	c.w.render(rw, r, http.StatusOK, "console_member_form", v, map[string]any{"Member": m, "Edit": edit, "Centers": cs,
		"Flash": c.w.takeFlash(r, v)})
	return nil
}

// memberFromForm reads the member's fields from the form.
func memberFromForm(r *http.Request, m *domain.Member) {
	m.Name = strings.TrimSpace(r.PostFormValue("name"))
	m.Email = strings.TrimSpace(r.PostFormValue("email"))
	m.HomeCenterID = strings.TrimSpace(r.PostFormValue("home_center_id"))
	if s := r.PostFormValue("status"); s != "" {
		m.Status = s
	}
}

// memberCreate creates a member (a manager: a local member of their center).
func (c *console) memberCreate(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	m := domain.Member{ID: strings.TrimSpace(r.PostFormValue("id")), Status: domain.MemberActive}
	memberFromForm(r, &m)
	if !v.Sees(m.HomeCenterID) && !(v.Admin() && m.HomeCenterID == "") {
		return forbidden(m.HomeCenterID)
	}
	if err := c.w.st.CreateMember(r.Context(), m); err != nil {
		return c.refused(rw, r, v, "/members/new", err)
	}
	return c.back(rw, r, v, "/members/"+m.ID, "console.member_created", "name", m.Name)
}

// memberUpdate saves the member's fields; a manager cannot move a member
// out of their center.
func (c *console) memberUpdate(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	m, err := c.w.memberOf(r, v)
	if err != nil {
		return err
	}
	memberFromForm(r, &m)
	if !v.Sees(m.HomeCenterID) && !(v.Admin() && m.HomeCenterID == "") {
		return forbidden(m.HomeCenterID)
	}
	if err := c.w.st.UpdateMember(r.Context(), m); err != nil {
		return c.refused(rw, r, v, "/members/"+m.ID+"/edit", err)
	}
	return c.back(rw, r, v, "/members/"+m.ID, "console.member_saved", "name", m.Name)
}

// memberStatus suspends or reinstates the member (form field status); a
// suspended member's badges open no door from the next whitelist on.
func (c *console) memberStatus(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	m, err := c.w.memberOf(r, v)
	if err != nil {
		return err
	}
	st := r.PostFormValue("status")
	if st != domain.MemberActive && st != domain.MemberSuspended {
		return c.back(rw, r, v, "/members/"+m.ID, "console.refused", "why", "status: want active or suspended")
	}
	m.Status = st
	if err := c.w.st.UpdateMember(r.Context(), m); err != nil {
		return c.refused(rw, r, v, "/members/"+m.ID, err)
	}
	return c.back(rw, r, v, "/members/"+m.ID, "console.member_"+st, "name", m.Name)
}

// passAdd gives the member a pass (the cooperative only, as in the API):
// from and until are dates of the network's zone, centers a comma list
// ("" = every center).
func (c *console) passAdd(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	m, err := c.w.memberOf(r, v)
	if err != nil {
		return err
	}
	to := "/members/" + m.ID
	from, err1 := time.ParseInLocation(time.DateOnly, r.PostFormValue("valid_from"), c.w.loc)
	until, err2 := time.ParseInLocation(time.DateOnly, r.PostFormValue("valid_until"), c.w.loc)
	if err1 != nil || err2 != nil {
		return c.back(rw, r, v, to, "console.refused", "why", "valid_from, valid_until: want dates such as 2026-12-01")
	}
	p := domain.Pass{ID: newID("pass-"), MemberID: m.ID, ValidFrom: from, ValidUntil: until.AddDate(0, 0, 1),
		CenterIDs: splitList(r.PostFormValue("centers"))}
	if err := c.w.st.CreatePass(r.Context(), p); err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, to, "console.pass_added")
}

// passDelete removes one of the member's passes.
func (c *console) passDelete(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	m, err := c.w.memberOf(r, v)
	if err != nil {
		return err
	}
	id := r.PathValue("pass")
	p, err := c.w.st.Pass(r.Context(), id)
	if err == nil && p.MemberID != m.ID {
		err = hidden("pass", id)
	}
	if err != nil {
		return err
	}
	if err := c.w.st.DeletePass(r.Context(), id); err != nil {
		return err
	}
	return c.back(rw, r, v, "/members/"+m.ID, "console.pass_removed")
}
