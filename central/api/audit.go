package api

import (
	"net/http"
	"strings"
	"unicode"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/store"
)

// The audit log (package audit): who changed what, when.
//
// Who sees which rows:
//   - admin: every row;
//   - manager: the rows that concern their center (an object that moved
//     between centers concerns both); another center's rows are invisible,
//     exactly as if they did not exist (center_id of another center
//     answers an empty list, like /events);
//   - technician: only their own actions, in their centers. A technician
//     needs to see what they did (which badge they revoked, which door
//     secret they rotated), but the log of others' changes carries members'
//     personal data (names, e-mail addresses in before/after) that the
//     technician role is not given anywhere else in the API.

// TokenActor is the audit actor of a request authenticated with an API
// token: the token and the client's address and user agent.
func TokenActor(r *http.Request, tk store.Token) audit.Actor {
	return audit.FromRequest(r, audit.Actor{Kind: audit.KindAPIToken, ID: tk.ID, Name: tk.Name, Role: string(tk.Role),
		Centers: tk.Centers})
}

// ActorOf is the audit actor kind and id under which principal tk's own
// changes are logged: a staff account's principal (id
// store.StaffPrincipalPrefix + the account's id, see
// central/accounts.Principal) as audit.KindStaffAccount with the account's
// id, an API token as audit.KindAPIToken with the token's id. The prefix is
// reserved, so the two never collide.
func ActorOf(tk store.Token) (audit.ActorKind, string) {
	if id, ok := strings.CutPrefix(tk.ID, store.StaffPrincipalPrefix); ok {
		return audit.KindStaffAccount, id
	}
	return audit.KindAPIToken, tk.ID
}

// auditParams are the filters of GET /audit and /audit.csv.
var auditParams = []string{"center_id", "actor_kind", "actor_id", "object_kind", "object_id", "action", "from", "to", "format"}

func (s *Server) auditFilter(r *http.Request, p *principal) (store.AuditFilter, *query) {
	q := newQuery(r, auditParams...)
	f := store.AuditFilter{
		CenterIDs:   narrow(p, q.id("center_id")),
		ActorKind:   audit.ActorKind(q.oneOf("actor_kind", string(audit.KindAPIToken), string(audit.KindStaffAccount), string(audit.KindMember), string(audit.KindSystem))),
		ActorID:     q.text("actor_id", 200),
		ObjectKind:  q.word("object_kind"),
		ObjectID:    q.text("object_id", 200),
		Action:      audit.Action(q.word("action")),
		From:        q.time("from"),
		To:          q.time("to"),
		PageRequest: q.page(),
	}
	q.oneOf("format", "json", "csv")
	if p.Role == store.RoleTechnician {
		// Their own actions only (see above).
		kind, id := ActorOf(p.Token)
		if (f.ActorKind != "" && f.ActorKind != kind) || (f.ActorID != "" && f.ActorID != id) {
			f.CenterIDs = []string{} // another's actions: nothing, as for another center
		}
		f.ActorKind, f.ActorID = kind, id
	}
	return f, q
}

// text reads a free parameter of at most n bytes without control
// characters.
func (q *query) text(name string, n int) string {
	v := q.v.Get(name)
	if v != "" && q.err == nil && (len(v) > n || strings.IndexFunc(v, unicode.IsControl) >= 0) {
		q.err = errInvalid(name, "at most %d bytes without control characters", n)
	}
	return v
}

// word reads a parameter of lower-case letters and underscores (an
// action or object kind).
func (q *query) word(name string) string {
	v := q.v.Get(name)
	if v != "" && q.err == nil && (len(v) > 40 || strings.IndexFunc(v, func(r rune) bool { return (r < 'a' || r > 'z') && r != '_' }) >= 0) {
		q.err = errInvalid(name, "%q: want lower-case letters and _, at most 40", v)
	}
	return v
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	if r.URL.Query().Get("format") == "csv" {
		return s.exportAudit(w, r, p)
	}
	f, q := s.auditFilter(r, p)
	if q.err != nil {
		return q.err
	}
	pg, err := s.st.ListAudit(r.Context(), f)
	return sendPage(w, pg, err)
}

// exportAudit writes every matching row (from the cursor on, if any) as
// CSV, newest first, reading the store a page at a time.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, q := s.auditFilter(r, p)
	if q.err != nil {
		return q.err
	}
	if f.Limit == 0 {
		f.Limit = store.MaxLimit
	}
	// The first page is read before anything is written, so that an error
	// is still a JSON error.
	pg, err := s.st.ListAudit(r.Context(), f)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
	cw := audit.NewCSVWriter(w)
	rows := 0
	for {
		if err := cw.Write(pg.Items); err != nil {
			return s.abortStream(r, err)
		}
		rows += len(pg.Items)
		if pg.Next == "" || r.URL.Query().Get("limit") != "" {
			break // one page when a limit was asked for
		}
		f.After = pg.Next
		if pg, err = s.st.ListAudit(r.Context(), f); err != nil {
			return s.abortStream(r, err)
		}
	}
	if err := cw.Flush(); err != nil {
		return s.abortStream(r, err)
	}
	s.log.InfoContext(r.Context(), "api: audit exported", "rows", rows, "by", p.ID)
	return nil
}

// abortStream logs and counts an error met after the answer began (its
// status is sent): the client gets a CSV cut short.
func (s *Server) abortStream(r *http.Request, err error) error {
	s.rejects.With("stream_cut").Inc()
	s.log.ErrorContext(r.Context(), "api: audit export cut short", "err", err)
	return nil
}
