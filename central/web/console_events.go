package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// LateAfter is when an event counts as late: the central received it at
// least this long after the time its door gave it (received − door time ≥
// LateAfter). A door online delivers its events within seconds; one that
// was offline keeps them in its outbox and delivers them when it is back,
// so its events of the offline time are late, and the crediting may book
// them as adjustments of a closed period. A door whose clock runs behind
// also makes its events look late: the event search shows both times.
const LateAfter = 5 * time.Minute

// defaultEventDays is how far back the event search looks when no time
// range is given.
const defaultEventDays = 7

// eventQuery is the event search's filter as the form shows it.
type eventQuery struct {
	Center, Door, Member, Badge, Reason, From, To string
	Late                                          bool
}

// eventFilter reads the event search's query into a store filter.
func (w *Web) eventFilter(r *http.Request, v *viewer) (store.EventFilter, eventQuery, error) {
	f := newFilterForm(r, w.loc)
	if f.v.Get("from") == "" && f.v.Get("to") == "" {
		// Without a time range: the last week (the store lists oldest
		// first, and the network's first events are rarely the question).
		f.v.Set("from", w.now().In(w.loc).AddDate(0, 0, -defaultEventDays).Format("2006-01-02"))
	}
	q := eventQuery{Center: f.id("center", "filter.center"), Door: f.id("door", "events.door"), Member: f.id("member", "events.member"),
		Badge: f.text("badge", "events.badge", 40), Reason: f.text("reason", "events.result", 40), From: f.v.Get("from"), To: f.v.Get("to"),
		Late: f.v.Get("late") == "1"}
	ef := store.EventFilter{From: f.day("from", "console.filter.from", false), To: f.day("to", "console.filter.to", true),
		MemberID: q.Member, PageRequest: store.PageRequest{After: f.cursor(), Limit: opsPageSize}}
	if q.Badge != "" {
		uid, err := protocol.ParseUID(q.Badge)
		if err != nil {
			f.fail("events.badge")
		}
		ef.UID = uid
	}
	if q.Reason != "" {
		known := false
		for _, c := range reasonCodes() {
			known = known || string(c) == q.Reason
		}
		if !known {
			f.fail("events.result")
		}
		ef.Reason = protocol.Reason(q.Reason)
	}
	if q.Late {
		ef.LateMs = LateAfter.Milliseconds()
	}
	if err := w.filterErr(r, v, "events", f); err != nil {
		return ef, q, err
	}
	centers, err := centerScope(v, q.Center)
	if err != nil {
		return ef, q, err
	}
	ef.CenterIDs = centers
	if q.Door != "" {
		d, err := w.st.Door(r.Context(), q.Door)
		if err != nil {
			return ef, q, err
		}
		if !v.Sees(d.CenterID) {
			return ef, q, hidden("door", q.Door)
		}
		ef.Door = d.ID
	}
	return ef, q, nil
}

// searchRow is one event of the search: its view and when it arrived.
type searchRow struct {
	eventView
	Received time.Time
	Late     bool
}

// eventSearch is GET /events: events by member, badge, door, center,
// reason and days, oldest first, a page at a time; late events marked.
func (w *Web) eventSearch(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ef, q, err := w.eventFilter(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	pg, err := w.st.ListEvents(ctx, ef)
	if err != nil {
		return err
	}
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	doors := &doorCache{doors: map[string]doorInfo{}}
	rows := make([]searchRow, 0, len(pg.Items))
	for i := range pg.Items {
		e := &pg.Items[i]
		rows = append(rows, w.searchRow(ctx, doors, e))
	}
	csvQ := r.URL.Query()
	csvQ.Del("after")
	w.render(rw, r, http.StatusOK, "console_events", v, map[string]any{"Q": q, "Rows": rows, "Centers": centers,
		"Reasons": reasonCodes(), "Next": nextLink(r, "/events", pg.Next), "CSV": "/events.csv?" + csvQ.Encode(),
		"LateMinutes": int(LateAfter.Minutes())})
	return nil
}

func (w *Web) searchRow(ctx context.Context, doors *doorCache, e *domain.Event) searchRow {
	d := doors.get(ctx, w.st, e.Door, w.now())
	return searchRow{eventView: w.view(d, &e.Event), Received: time.UnixMilli(e.ReceivedMs),
		Late: e.ReceivedMs-e.TimeMs >= LateAfter.Milliseconds()}
}

// eventsCSV is GET /events.csv: every event the search selects (from its
// cursor on), as CSV, each cell made safe for spreadsheets
// (audit.SafeCell, against formula injection).
func (w *Web) eventsCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ef, _, err := w.eventFilter(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	ef.Limit = store.MaxLimit
	pg, err := w.st.ListEvents(ctx, ef) // before writing: an error is still a page
	if err != nil {
		return err
	}
	rw.Header().Set("Content-Type", "text/csv; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="events.csv"`)
	cw := csv.NewWriter(rw)
	write := func(row ...string) {
		for i := range row {
			row[i] = audit.SafeCell(row[i])
		}
		_ = cw.Write(row)
	}
	write("door_time", "received", "late", "door", "center", "seq", "kind", "reason", "badge", "member", "clock_trusted")
	doors := &doorCache{doors: map[string]doorInfo{}}
	for {
		for i := range pg.Items {
			e := &pg.Items[i]
			d := doors.get(ctx, w.st, e.Door, w.now())
			write(time.UnixMilli(e.TimeMs).UTC().Format(time.RFC3339Nano), time.UnixMilli(e.ReceivedMs).UTC().Format(time.RFC3339Nano),
				strconv.FormatBool(e.ReceivedMs-e.TimeMs >= LateAfter.Milliseconds()), e.Door, d.center, strconv.FormatUint(e.Seq, 10),
				string(e.Kind), string(e.Reason), string(e.UID), e.Member, strconv.FormatBool(e.Trusted))
		}
		cw.Flush()
		if pg.Next == "" {
			break
		}
		ef.After = pg.Next
		if pg, err = w.st.ListEvents(ctx, ef); err != nil {
			// Headers are sent: the download ends short, and the log says why.
			w.log.ErrorContext(ctx, "web: events csv cut short", "err", err)
			return nil
		}
	}
	return cw.Error()
}
