package web

// The staff console's screens that run a center (issue 16): members (create,
// edit, suspend, home center, passes), badges (assign, move, revoke, and
// learn mode: the next unknown badge presented at a chosen door within a
// minute is offered for assignment), the bookings calendar of a center and
// room (book and cancel on behalf of a member through central/booking),
// who is in now, staff, and places (desk pool, rooms, booking rules). Every
// list has a search and pages; members, badges and a center's events
// download as CSV.
//
// The rules are the API's: the screens are open to the roles of the API's
// routes (managers: admin and manager; badges also to technicians), a
// manager's view and changes stay in their center, and an object of
// another center is answered exactly like a missing one (404). Every
// change goes through the store functions the API uses, with the viewer as
// the audit log's actor (w.page puts it in the context).

import (
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// consolePageSize is the number of rows of one page of a console list.
const consolePageSize = 50

// console holds what the console's screens share: the booking service and
// the learn mode's sightings of unknown badges.
type console struct {
	w     *Web
	bk    *booking.Service
	learn *learner
}

// consoleRoutes registers the console's screens (called by routes).
func (w *Web) consoleRoutes() {
	c := &console{w: w, learn: w.learn,
		bk: booking.New(w.st, booking.Options{Now: w.now, Logger: w.log})}
	m := w.mux
	mgr := eventRoles()
	badgeRoles := []store.Role{store.RoleAdmin, store.RoleManager, store.RoleTechnician}
	m.Handle("GET /members.csv", w.page(mgr, c.membersCSV))
	m.Handle("GET /members/new", w.page(mgr, c.memberForm))
	m.Handle("POST /members/new", w.page(mgr, c.memberCreate))
	m.Handle("GET /members/{id}/edit", w.page(mgr, c.memberForm))
	m.Handle("POST /members/{id}/edit", w.page(mgr, c.memberUpdate))
	m.Handle("POST /members/{id}/status", w.page(mgr, c.memberStatus))
	m.Handle("POST /members/{id}/passes", w.page([]store.Role{store.RoleAdmin}, c.passAdd))
	m.Handle("POST /members/{id}/passes/{pass}/delete", w.page([]store.Role{store.RoleAdmin}, c.passDelete))
	m.Handle("GET /badges", w.page(badgeRoles, c.badges))
	m.Handle("GET /badges.csv", w.page(badgeRoles, c.badgesCSV))
	m.Handle("GET /badges/learn", w.page(badgeRoles, c.learnPage))
	m.Handle("POST /badges/learn", w.page(badgeRoles, c.learnStart))
	m.Handle("POST /badges", w.page(badgeRoles, c.badgeAssign))
	m.Handle("POST /badges/{uid}/move", w.page(badgeRoles, c.badgeMove))
	m.Handle("POST /badges/{uid}/revoke", w.page(badgeRoles, c.badgeRevoke))
	m.Handle("GET /bookings", w.page(mgr, c.calendar))
	m.Handle("POST /bookings", w.page(mgr, c.bookFor))
	m.Handle("POST /bookings/{id}/cancel", w.page(mgr, c.cancelFor))
	m.Handle("GET /presence", w.page(mgr, c.presence))
	m.Handle("GET /presence/events.csv", w.page(mgr, c.eventsCSV))
	m.Handle("GET /staff", w.page(mgr, c.staff))
	m.Handle("POST /staff", w.page(mgr, c.staffAdd))
	m.Handle("POST /staff/remove", w.page(mgr, c.staffRemove))
	m.Handle("GET /places", w.page(mgr, c.places))
	m.Handle("POST /places/desks", w.page(mgr, c.desksSave))
	m.Handle("POST /places/rooms", w.page(mgr, c.roomSave))
	m.Handle("POST /places/rules", w.page(mgr, c.rulesSave))
}

// consolePages are the console's templates (added to pageNames).
func consolePages() []string {
	return []string{"console_member_form", "console_badges", "console_learn", "console_bookings", "console_presence",
		"console_staff", "console_places"}
}

// ---- centers

// centers lists the centers the viewer sees, by id.
func (c *console) centers(r *http.Request, v *viewer) ([]domain.Center, error) {
	ctx := r.Context()
	all, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return c.w.st.ListCenters(ctx, store.CenterFilter{IDs: v.scope(), PageRequest: p})
	})
	return all, err
}

// center is the center a screen is about: the query's (or form's)
// "center", else the viewer's first. A center the viewer does not see is
// answered like a missing one.
func (c *console) center(r *http.Request, v *viewer, cs []domain.Center) (domain.Center, error) {
	id := strings.TrimSpace(r.FormValue("center"))
	if id == "" {
		if len(cs) == 0 {
			return domain.Center{}, pageErr(http.StatusNotFound, "error.no_center")
		}
		return cs[0], nil
	}
	for _, x := range cs {
		if x.ID == id {
			return x, nil
		}
	}
	return domain.Center{}, hidden("center", id)
}

// ---- paging and search

// pager is the paging of a list: the page shown, and the links to the
// previous and next ones ("" when none).
type pager struct {
	Page, Pages, Total int
	Prev, Next         string
}

// pageSlice returns the page of items the request asks for (?page=N, from
// 1) and its pager.
func pageSlice[T any](r *http.Request, items []T) ([]T, pager) {
	n, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (len(items)+consolePageSize-1)/consolePageSize)
	n = min(max(n, 1), pages)
	p := pager{Page: n, Pages: pages, Total: len(items)}
	link := func(k int) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(k))
		return r.URL.Path + "?" + q.Encode()
	}
	if n > 1 {
		p.Prev = link(n - 1)
	}
	if n < pages {
		p.Next = link(n + 1)
	}
	lo := (n - 1) * consolePageSize
	return items[lo:min(lo+consolePageSize, len(items))], p
}

// matches reports whether the needle (lower case) is in one of the fields.
func matches(needle string, fields ...string) bool {
	if needle == "" {
		return true
	}
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), needle) {
			return true
		}
	}
	return false
}

// ---- CSV

// writeCSV sends rows as a CSV download, every cell through
// audit.SafeCell (a cell a spreadsheet would read as a formula is
// quoted), as the audit log's CSV export does.
func writeCSV(rw http.ResponseWriter, name string, header []string, rows [][]string) error {
	rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rw.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	cw := csv.NewWriter(rw)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("csv %s: %w", name, err)
	}
	for _, row := range rows {
		for i := range row {
			row[i] = audit.SafeCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("csv %s: %w", name, err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// ---- forms

// back redirects to a console page after a change, with a flash message.
func (c *console) back(rw http.ResponseWriter, r *http.Request, v *viewer, to, key string, args ...any) error {
	c.w.setFlash(r, v, c.w.locale(r, v).T(key, args...))
	http.Redirect(rw, r, to, http.StatusSeeOther)
	return nil
}

// refused shows a refused change as a flash message on the page it came
// from: a field error or a booking refusal in words; other errors become
// the error page.
func (c *console) refused(rw http.ResponseWriter, r *http.Request, v *viewer, to string, err error) error {
	var fe *domain.FieldError
	var be *booking.Error
	var se *store.Error
	switch {
	case errors.As(err, &be):
		// The booking site's words for the refusal, in the viewer's
		// language (site.error.CODE), else the service's English.
		why, loc := be.Message, c.w.locale(r, v)
		if key := "site.error." + be.Code; c.w.cat.Has(loc.Lang, key) {
			why = loc.T(key)
		}
		return c.back(rw, r, v, to, "console.refused", "why", why)
	case errors.As(err, &fe):
		return c.back(rw, r, v, to, "console.refused", "why", fe.Error())
	case errors.As(err, &se) && (errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrInUse) || errors.Is(err, store.ErrMissingRef)):
		return c.back(rw, r, v, to, "console.refused", "why", se.Error())
	}
	return err
}

// localPath keeps a redirect target from a form on this site.
func localPath(p, fallback string) string {
	if p == "" {
		return fallback
	}
	if s := safeNext(p); s != "/" || p == "/" {
		return s
	}
	return fallback
}

// ---- learn mode

// learnWindow is how long after learn mode starts an unknown badge
// presented at the door is offered for assignment.
const learnWindow = time.Minute

// learnKept is how long a learn mode's page still answers (offers what
// the door reported in its minute); older starts are refused.
const learnKept = 15 * time.Minute

// learner remembers, per door, the newest unknown badge the door reported
// (a tap denied_unknown_badge), from the ingest's commits (Web.OnCommit).
// It is the fast path of learn mode; the events in the store are the
// other (a commit ingested by another replica).
type learner struct {
	mu   sync.Mutex
	seen map[string]sighting
}

// sighting is an unknown badge at a door, when the central received it.
type sighting struct {
	UID        protocol.UID
	ReceivedMs int64
}

func newLearner() *learner { return &learner{seen: map[string]sighting{}} }

// observe records the unknown badges of a commit.
func (l *learner) observe(receivedMs int64, batches []ingest.Batch) {
	for _, b := range batches {
		for _, e := range b.Events {
			if e.Kind != protocol.EventTap || e.Reason != protocol.DeniedUnknownBadge || e.UID == "" {
				continue
			}
			l.mu.Lock()
			if s, ok := l.seen[b.Door]; !ok || s.ReceivedMs <= receivedMs {
				l.seen[b.Door] = sighting{UID: e.UID, ReceivedMs: receivedMs}
			}
			l.mu.Unlock()
		}
	}
}

// since returns the newest unknown badge seen at door in [fromMs, toMs].
func (l *learner) since(door string, fromMs, toMs int64) (protocol.UID, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.seen[door]
	if !ok || s.ReceivedMs < fromMs || s.ReceivedMs > toMs {
		return "", false
	}
	return s.UID, true
}

// unknownBadge is learn mode's answer: the newest unknown badge presented
// at door from fromMs on, within the learn window: from the commit feed,
// else from the door's stored events.
func (c *console) unknownBadge(r *http.Request, door string, fromMs int64) (protocol.UID, bool, error) {
	toMs := fromMs + learnWindow.Milliseconds()
	if uid, ok := c.learn.since(door, fromMs, toMs); ok {
		return uid, true, nil
	}
	// The door's clock may differ from the central's: look a minute wider
	// by the event's time, and keep what the central received in the window.
	from := time.UnixMilli(fromMs).Add(-learnWindow)
	evs, err := c.w.st.ListEvents(r.Context(), store.EventFilter{Door: door, Kind: protocol.EventTap, From: from,
		To: time.UnixMilli(toMs).Add(learnWindow), PageRequest: store.PageRequest{Limit: store.MaxLimit}})
	if err != nil {
		return "", false, err
	}
	var best domain.Event
	for _, e := range evs.Items {
		if e.Reason == protocol.DeniedUnknownBadge && e.UID != "" && e.ReceivedMs >= fromMs && e.ReceivedMs <= toMs && e.ReceivedMs >= best.ReceivedMs {
			best = e
		}
	}
	return best.UID, best.UID != "", nil
}

// seesDoor returns the door when the viewer sees its center, else the
// answer about a missing door.
func (c *console) seesDoor(r *http.Request, v *viewer, id string) (domain.Door, error) {
	if protocol.ValidID(id) != nil {
		return domain.Door{}, hidden("door", id)
	}
	d, err := c.w.st.Door(r.Context(), id)
	if err != nil {
		return d, err
	}
	if !v.Sees(d.CenterID) {
		return d, hidden("door", id)
	}
	return d, nil
}

// queryWith is path with the query values.
func queryWith(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// splitList splits a comma-separated form value into trimmed, non-empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// newID is a fresh identifier with the prefix (16 hex digits).
func newID(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// consoleNav is the console's entries of the staff navigation.
func consoleNav(v *viewer) []navItem {
	items := []navItem{{Href: "/badges", Key: "nav.badges"}}
	if v.SeesEvents() {
		items = append(items, navItem{Href: "/bookings", Key: "nav.bookings"}, navItem{Href: "/presence", Key: "nav.presence"},
			navItem{Href: "/staff", Key: "nav.staff"}, navItem{Href: "/places", Key: "nav.places"})
	}
	return items
}
