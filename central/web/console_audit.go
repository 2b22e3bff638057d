package web

import (
	"net/http"
	"strings"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/store"
)

// auditQuery is the audit page's filter as the form shows it.
type auditQuery struct {
	Center, Actor, ObjectKind, ObjectID, Action, From, To string
}

// word reports whether s is lower-case letters and underscores (an action
// or object kind), at most 40.
func word(s string) bool {
	return len(s) <= 40 && strings.IndexFunc(s, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) < 0
}

// auditFilter reads the audit page's query. Who sees which rows is the
// API's rule (central/api audit.go): an admin every row, a manager the rows
// of their center, a technician only their own actions.
func (w *Web) auditFilter(r *http.Request, v *viewer) (store.AuditFilter, auditQuery, error) {
	f := newFilterForm(r, w.loc)
	q := auditQuery{Center: f.id("center", "filter.center"), Actor: f.text("actor", "console.audit.actor", 200),
		ObjectKind: f.text("object_kind", "console.audit.object_kind", 40), ObjectID: f.text("object_id", "console.audit.object_id", 200),
		Action: f.text("action", "console.audit.action", 40), From: f.v.Get("from"), To: f.v.Get("to")}
	if !word(q.ObjectKind) {
		f.fail("console.audit.object_kind")
	}
	if !word(q.Action) {
		f.fail("console.audit.action")
	}
	af := store.AuditFilter{ActorID: q.Actor, ObjectKind: q.ObjectKind, ObjectID: q.ObjectID, Action: audit.Action(q.Action),
		From: f.day("from", "console.filter.from", false), To: f.day("to", "console.filter.to", true),
		PageRequest: store.PageRequest{After: f.cursor(), Limit: opsPageSize}}
	if err := w.filterErr(r, v, "audit", f); err != nil {
		return af, q, err
	}
	centers, err := centerScope(v, q.Center)
	if err != nil {
		return af, q, err
	}
	af.CenterIDs = centers
	if v.Role == store.RoleTechnician {
		// Their own actions only, as in the API: those of their staff
		// account, or of their token for a break-glass session.
		kind, id := api.ActorOf(v.Token)
		if af.ActorID != "" && af.ActorID != id {
			af.CenterIDs = []string{} // another's actions: nothing, as for another center
		}
		af.ActorKind, af.ActorID = kind, id
	}
	return af, q, nil
}

// auditPage is GET /audit: the audit log, newest first, a page at a time,
// with a CSV link for the same filter.
func (w *Web) auditPage(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	af, q, err := w.auditFilter(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	pg, err := w.st.ListAudit(ctx, af)
	if err != nil {
		return err
	}
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	csvQ := r.URL.Query()
	csvQ.Del("after")
	w.render(rw, r, http.StatusOK, "console_audit", v, map[string]any{"Q": q, "Rows": pg.Items, "Centers": centers,
		"Next": nextLink(r, "/audit", pg.Next), "CSV": "/audit.csv?" + csvQ.Encode(),
		"Actions": []audit.Action{audit.Create, audit.Update, audit.Delete, audit.Revoke, audit.RotateSecret, audit.Redeem, audit.Import, audit.Close, audit.Approve}})
	return nil
}

// auditCSV is GET /audit.csv: every row the filter selects, newest first,
// through audit.CSVWriter (cells safe against formula injection).
func (w *Web) auditCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	af, _, err := w.auditFilter(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	af.Limit = store.MaxLimit
	pg, err := w.st.ListAudit(ctx, af)
	if err != nil {
		return err
	}
	rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	cw := audit.NewCSVWriter(rw)
	for {
		if err := cw.Write(pg.Items); err != nil {
			w.log.ErrorContext(ctx, "web: audit csv cut short", "err", err)
			return nil
		}
		if pg.Next == "" {
			break
		}
		af.After = pg.Next
		if pg, err = w.st.ListAudit(ctx, af); err != nil {
			w.log.ErrorContext(ctx, "web: audit csv cut short", "err", err)
			return nil
		}
	}
	return cw.Flush()
}
