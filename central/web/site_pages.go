package web

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The booking site's pages (issue 15), all under SitePrefix and for a
// member's session (memberPage):
//
//	GET  /my/                          upcoming bookings (check-in hook), quick search, cancel a date range
//	GET  /my/find                      where can I work (network or one center, desk or room for N)
//	GET  /my/centers/{id}/week         a center's week, in its own time zone
//	GET  /my/book                      the booking form (from a search result), once or every week
//	POST /my/bookings                  book (or book recurring: repeat > 1)
//	GET  /my/bookings/{id}             one booking: change its times, cancel it
//	POST /my/bookings/{id}/change      change
//	POST /my/bookings/{id}/cancel      cancel
//	POST /my/bookings/cancel-range     cancel every booking from a date to a date (holidays)
//	GET  /my/hours                     past visits and credited hours of a month (own statement only)
//	GET  /my/denials                   the member's own recent refused taps, the reason in words
//	GET  /my/calendar                  the private calendar feed: make or reset its URL
//	POST /my/calendar/reset            a new feed URL (the old one answers 404); audited
//	GET  /my/calendar/{token}.ics      the feed itself: token-protected, no session (site_feed.go)
//
// Every refusal of the booking service is shown in the member's language
// from its code (catalog key site.error.<code>) with the field it is about
// (site.field.<field>). Times are shown and entered in each center's own
// time zone, labelled with the zone. Confirmation, change and cancellation
// e-mails with an .ics go through the outbox (site_mail.go).

// siteRoutes registers the booking site's pages.
func (w *Web) siteRoutes() {
	m := w.mux
	m.Handle("GET "+SitePrefix+"{$}", w.memberPage(w.siteHome))
	m.Handle("GET "+SitePrefix+"find", w.memberPage(w.siteFind))
	m.Handle("GET "+SitePrefix+"centers/{id}/week", w.memberPage(w.siteWeek))
	m.Handle("GET "+SitePrefix+"book", w.memberPage(w.siteBookForm))
	m.Handle("POST "+SitePrefix+"bookings", w.memberPage(w.siteBook))
	m.Handle("POST "+SitePrefix+"bookings/cancel-range", w.memberPage(w.siteCancelRange))
	m.Handle("GET "+SitePrefix+"bookings/{id}", w.memberPage(w.siteBooking))
	m.Handle("POST "+SitePrefix+"bookings/{id}/change", w.memberPage(w.siteChange))
	m.Handle("POST "+SitePrefix+"bookings/{id}/cancel", w.memberPage(w.siteCancel))
	m.Handle("GET "+SitePrefix+"hours", w.memberPage(w.siteHours))
	m.Handle("GET "+SitePrefix+"denials", w.memberPage(w.siteDenials))
	m.Handle("GET "+SitePrefix+"calendar", w.memberPage(w.siteCalendar))
	m.Handle("POST "+SitePrefix+"calendar/reset", w.memberPage(w.siteCalendarReset))
	m.HandleFunc("GET "+SitePrefix+"calendar/{file}", w.siteFeed)
	w.meRoutes()
}

// sitePageNames are the booking site's templates (AreaMember).
func sitePageNames() []string {
	return []string{"site_home", "site_find", "site_week", "site_book", "site_booking", "site_series", "site_range",
		"site_hours", "site_denials", "site_calendar"}
}

// siteNav is the booking site's navigation.
func siteNav() []navItem {
	return []navItem{{Href: SitePrefix, Key: "nav.my"}, {Href: SitePrefix + "find", Key: "site.nav.find"},
		{Href: SitePrefix + "hours", Key: "site.nav.hours"}, {Href: SitePrefix + "denials", Key: "site.nav.denials"},
		{Href: SitePrefix + "calendar", Key: "site.nav.calendar"}, {Href: SitePrefix + "invoices", Key: "billing.site.nav"}}
}

// Horizons of the site's lists.
const (
	siteUpcoming    = 90 * 24 * time.Hour // the home page's upcoming bookings
	siteRecent      = 30 * 24 * time.Hour // the feed's past bookings
	siteFeedAhead   = 330 * 24 * time.Hour
	siteDenials     = 20 // refused taps shown
	siteMaxPeople   = domain.MaxRoomCapacity
	siteDateLayout  = "2006-01-02"
	siteClockLayout = "15:04"
)

// refusal is a refused request as a page shows it: the catalog keys of
// the reason and the field.
type refusal struct {
	Code, Field string
}

// refusalOf returns the refusal of a booking.Error (nil for other errors).
func refusalOf(err error) *refusal {
	var be *booking.Error
	if errors.As(err, &be) {
		return &refusal{Code: be.Code, Field: be.Field}
	}
	return nil
}

func invalid(field string) error {
	return &booking.Error{Code: booking.CodeInvalid, Field: field, Message: "invalid " + field}
}

// siteRow is one booking as the pages show it, in its center's zone.
type siteRow struct {
	domain.Booking
	Center   string // the center's name
	Room     string // the room's name ("": a desk)
	When     string // "mar. 8 déc. 09:00–17:00 CET"
	Past     bool
	Editable bool // confirmed and not started
	// CheckIn is the check-in shown on the row ("checked in at 09:02 at
	// the door"); empty until the check-in by badge fills it (the
	// checkin engineer sets it in w.checkIn).
	CheckIn string
}

// places caches centers and rooms by id for one request.
type places struct {
	w       *Web
	centers map[string]domain.Center
	rooms   map[string]domain.Room
}

func (w *Web) places() *places {
	return &places{w: w, centers: map[string]domain.Center{}, rooms: map[string]domain.Room{}}
}

func (p *places) center(ctx context.Context, id string) (domain.Center, *time.Location, error) {
	c, ok := p.centers[id]
	if !ok {
		var err error
		c, err = p.w.st.Center(ctx, id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return c, nil, &booking.Error{Code: booking.CodeUnknownCenter, Field: "center_id", Message: "no center " + id}
			}
			return c, nil, err
		}
		p.centers[id] = c
	}
	loc, err := c.Location()
	if err != nil {
		return c, p.w.loc, nil // shown in the network's zone, labelled
	}
	return c, loc, nil
}

func (p *places) roomName(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	r, ok := p.rooms[id]
	if !ok {
		var err error
		if r, err = p.w.st.Room(ctx, id); err != nil {
			return id
		}
		p.rooms[id] = r
	}
	return r.Name
}

// span is [start, end) in loc with the zone: "mar. 8 déc. 09:00–17:00 CET".
func span(l i18n.Locale, start, end time.Time, loc *time.Location) string {
	s := l.Day(start, loc) + "–"
	if ys, ms, ds := start.In(loc).Date(); func() bool { ye, me, de := end.In(loc).Date(); return ys == ye && ms == me && ds == de }() {
		s += l.Clock(end, loc)
	} else {
		s += l.Day(end, loc)
	}
	return s + " " + l.Zone(start, loc)
}

func (w *Web) rows(ctx context.Context, l i18n.Locale, pl *places, bs []domain.Booking) ([]siteRow, error) {
	now := w.now()
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	ins, err := w.booking.CheckIns(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]siteRow, 0, len(bs))
	for _, b := range bs {
		c, loc, err := pl.center(ctx, b.CenterID)
		if err != nil {
			return nil, err
		}
		out = append(out, siteRow{Booking: b, Center: c.Name, Room: pl.roomName(ctx, b.RoomID), When: span(l, b.Start, b.End, loc),
			Past: !b.End.After(now), Editable: b.Status == domain.BookingConfirmed && b.Start.After(now), CheckIn: w.checkIn(ctx, l, ins, b, loc)})
	}
	return out, nil
}

// checkIn is the check-in text of a booking: when and at which door the
// member's badge checked it in, in the center's zone; empty before.
func (w *Web) checkIn(ctx context.Context, l i18n.Locale, ins map[string]store.CheckIn, b domain.Booking, loc *time.Location) string {
	in, ok := ins[b.ID]
	if !ok {
		return ""
	}
	door := in.Door
	if d, err := w.st.Door(ctx, in.Door); err == nil && d.Name != "" {
		door = d.Name
	}
	return l.T("site.checked_in", "time", l.Clock(time.UnixMilli(in.AtMs), loc), "door", door)
}

// siteHome lists the member's upcoming bookings with a quick search.
func (w *Web) siteHome(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	now := w.now()
	bs, err := w.booking.MyBookings(ctx, v.Member.ID, now.Add(-12*time.Hour), now.Add(siteUpcoming))
	if err != nil {
		return err
	}
	bs = slices.DeleteFunc(bs, func(b domain.Booking) bool { return b.Status != domain.BookingConfirmed || !b.End.After(now) })
	rows, err := w.rows(ctx, w.locale(r, v), w.places(), bs)
	if err != nil {
		return err
	}
	day := w.nextWorkday(now)
	w.render(rw, r, http.StatusOK, "site_home", v, map[string]any{"Rows": rows, "Flash": w.takeFlash(r, v),
		"Date": day, "From": "09:00", "To": "17:00", "RangeFrom": day, "RangeTo": now.In(w.loc).AddDate(0, 0, 7).Format(siteDateLayout)})
	return nil
}

// nextWorkday is the date of the next Monday to Friday after now, in the
// network's zone.
func (w *Web) nextWorkday(now time.Time) string {
	d := now.In(w.loc).AddDate(0, 0, 1)
	for d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return d.Format(siteDateLayout)
}

// localSpan reads a date and two clock times (form fields dateF, fromF,
// toF) as [start, end) in loc.
func localSpan(date, from, to string, loc *time.Location) (time.Time, time.Time, error) {
	d, err := time.ParseInLocation(siteDateLayout, date, loc)
	if err != nil {
		return time.Time{}, time.Time{}, invalid("date")
	}
	clock := func(s, field string) (time.Time, error) {
		c, err := time.Parse(siteClockLayout, s)
		if err != nil {
			return time.Time{}, invalid(field)
		}
		return time.Date(d.Year(), d.Month(), d.Day(), c.Hour(), c.Minute(), 0, 0, loc), nil
	}
	start, err := clock(from, "start")
	if err != nil {
		return start, start, err
	}
	var end time.Time
	if to == "24:00" {
		end = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	} else if end, err = clock(to, "end"); err != nil {
		return start, end, err
	}
	return start, end, nil
}

// findForm is the search's input, echoed in the form.
type findForm struct {
	Date, From, To, Center, Kind string
	People                       int
}

// findResult is one center's answer, in its own zone.
type findResult struct {
	booking.CenterAvailability
	When      string
	FreeRooms []booking.RoomAvailability
	Book      string // the booking form's link for a desk ("" when none is free)
}

// siteFind answers "where can I work on Tuesday 9–17?".
func (w *Web) siteFind(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	q := r.URL.Query()
	f := findForm{Date: q.Get("date"), From: cmp.Or(q.Get("from"), "09:00"), To: cmp.Or(q.Get("to"), "17:00"),
		Center: q.Get("center"), Kind: q.Get("kind"), People: 1}
	centers, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return w.st.ListCenters(ctx, store.CenterFilter{PageRequest: p})
	})
	if err != nil {
		return err
	}
	slices.SortFunc(centers, func(a, b domain.Center) int { return cmp.Compare(a.Name, b.Name) })
	data := map[string]any{"Form": &f, "Centers": centers}
	searched := f.Date != ""
	if f.Date == "" {
		f.Date = w.nextWorkday(w.now())
	}
	var results []findResult
	var fail error
	if searched {
		results, fail = w.find(ctx, w.locale(r, v), &f, q.Get("people"), centers)
	}
	status := http.StatusOK
	if rf := refusalOf(fail); rf != nil {
		status, data["Refusal"] = http.StatusUnprocessableEntity, rf
	} else if fail != nil {
		return fail
	}
	data["Searched"], data["Results"] = searched && fail == nil, results
	w.render(rw, r, status, "site_find", v, data)
	return nil
}

func (w *Web) find(ctx context.Context, l i18n.Locale, f *findForm, people string, centers []domain.Center) ([]findResult, error) {
	if people != "" {
		n, err := strconv.Atoi(people)
		if err != nil || n < 1 || n > siteMaxPeople {
			return nil, invalid("people")
		}
		f.People = n
	}
	if f.Kind != "" && f.Kind != booking.KindDesk && f.Kind != booking.KindRoom {
		return nil, invalid("kind")
	}
	if f.People > 1 && f.Kind == "" {
		f.Kind = booking.KindRoom
	}
	// One query per time zone: "9–17" is each center's own 9–17.
	byZone := map[string][]string{}
	for _, c := range centers {
		if f.Center == "" || c.ID == f.Center {
			byZone[c.TimeZone] = append(byZone[c.TimeZone], c.ID)
		}
	}
	if f.Center != "" && len(byZone) == 0 {
		return nil, &booking.Error{Code: booking.CodeUnknownCenter, Field: "center_id", Message: "no center " + f.Center}
	}
	var out []findResult
	for zone, ids := range byZone {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			loc = w.loc
		}
		start, end, err := localSpan(f.Date, f.From, f.To, loc)
		if err != nil {
			return nil, err
		}
		as, err := w.booking.Availability(ctx, booking.Query{CenterIDs: ids, Start: start, End: end, People: f.People, Kind: f.Kind})
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			fr := findResult{CenterAvailability: a, When: span(l, start, end, loc)}
			for _, rm := range a.Rooms {
				if rm.Free && f.Kind != booking.KindDesk {
					fr.FreeRooms = append(fr.FreeRooms, rm)
				}
			}
			if a.Open && a.DesksFree > 0 && f.Kind != booking.KindRoom {
				fr.Book = bookLink(a.CenterID, "", f)
			}
			out = append(out, fr)
		}
	}
	slices.SortFunc(out, func(a, b findResult) int {
		if a.Fits != b.Fits {
			if a.Fits {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

// bookLink is the booking form's address for a place found.
func bookLink(center, room string, f *findForm) string {
	q := "center=" + urlQueryEscape(center) + "&date=" + urlQueryEscape(f.Date) + "&from=" + urlQueryEscape(f.From) + "&to=" + urlQueryEscape(f.To)
	if room != "" {
		q += "&room=" + urlQueryEscape(room) + "&people=" + strconv.Itoa(f.People)
	}
	return SitePrefix + "book?" + q
}

// weekDay is one local day of a center's week.
type weekDay struct {
	Title string
	Date  string
	Slots []weekSlot
}

// weekSlot is an hour of a day: what is free.
type weekSlot struct {
	From, To  string
	DesksFree int
	Rooms     int
	Book      string
}

// siteWeek shows a center's week from a date, in the center's zone.
func (w *Web) siteWeek(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	id := r.PathValue("id")
	if protocol.ValidID(id) != nil {
		return pageErr(http.StatusNotFound, "error.no_page")
	}
	c, loc, err := w.places().center(ctx, id)
	if err != nil {
		if refusalOf(err) != nil {
			return pageErr(http.StatusNotFound, "error.no_page")
		}
		return err
	}
	day := w.now().In(loc)
	if s := r.URL.Query().Get("date"); s != "" {
		if day, err = time.ParseInLocation(siteDateLayout, s, loc); err != nil {
			return pageErr(http.StatusBadRequest, "site.error.invalid_date")
		}
	}
	wk, err := w.booking.Week(ctx, c.ID, day)
	if err != nil {
		return err
	}
	l := w.locale(r, v)
	days := make([]weekDay, 0, len(wk.Days))
	for _, d := range wk.Days {
		dt, _ := time.ParseInLocation(siteDateLayout, d.Date, loc)
		title := l.Day(dt, loc)
		wd := weekDay{Title: title[:strings.LastIndex(title, " ")], Date: d.Date} // the day without its time
		for _, s := range d.Slots {
			ws := weekSlot{From: l.Clock(s.Start, loc), To: l.Clock(s.End, loc), DesksFree: s.DesksFree, Rooms: len(s.RoomsFree)}
			if s.End.After(w.now()) && s.DesksFree > 0 {
				ws.Book = bookLink(c.ID, "", &findForm{Date: d.Date, From: ws.From, To: ws.To})
			}
			wd.Slots = append(wd.Slots, ws)
		}
		days = append(days, wd)
	}
	w.render(rw, r, http.StatusOK, "site_week", v, map[string]any{"Center": c, "Zone": l.Zone(day, loc), "TimeZone": c.TimeZone,
		"Days": days, "Desks": wk.Desks, "Prev": day.AddDate(0, 0, -7).Format(siteDateLayout), "Next": day.AddDate(0, 0, 7).Format(siteDateLayout)})
	return nil
}

// bookForm is the booking form's input, echoed back on a refusal.
type bookForm struct {
	Center, Room, Date, From, To string
	People, Repeat, Every        int
	CenterName, RoomName, Zone   string
}

func (w *Web) readBookForm(ctx context.Context, get func(string) string, pl *places) (bookForm, *time.Location, error) {
	f := bookForm{Center: get("center"), Room: get("room"), Date: get("date"), From: get("from"), To: get("to"), People: 1, Repeat: 1, Every: 1}
	if protocol.ValidID(f.Center) != nil {
		return f, w.loc, &booking.Error{Code: booking.CodeUnknownCenter, Field: "center_id", Message: "no center"}
	}
	c, loc, err := pl.center(ctx, f.Center)
	if err != nil {
		return f, w.loc, err
	}
	f.CenterName, f.RoomName, f.Zone = c.Name, pl.roomName(ctx, f.Room), loc.String()
	num := func(name, field string, dst *int, lo, hi int) error {
		if s := get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < lo || n > hi {
				return invalid(field)
			}
			*dst = n
		}
		return nil
	}
	if err := cmp.Or(num("people", "people", &f.People, 1, siteMaxPeople), num("repeat", "count", &f.Repeat, 1, booking.MaxOccurrences),
		num("every", "every_weeks", &f.Every, 1, 8)); err != nil {
		return f, loc, err
	}
	return f, loc, nil
}

// siteBookForm shows the booking form for a place found.
func (w *Web) siteBookForm(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	f, _, err := w.readBookForm(ctx, r.URL.Query().Get, w.places())
	status, data := http.StatusOK, map[string]any{"Form": &f}
	if rf := refusalOf(err); rf != nil {
		status, data["Refusal"] = http.StatusUnprocessableEntity, rf
	} else if err != nil {
		return err
	}
	w.render(rw, r, status, "site_book", v, data)
	return nil
}

// siteBook books once, or every Every weeks Repeat times.
func (w *Web) siteBook(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	pl := w.places()
	l := w.locale(r, v)
	f, loc, err := w.readBookForm(ctx, r.PostFormValue, pl)
	var start, end time.Time
	if err == nil {
		start, end, err = localSpan(f.Date, f.From, f.To, loc)
	}
	req := booking.Request{MemberID: v.Member.ID, CenterID: f.Center, RoomID: f.Room, Start: start, End: end, People: f.People}
	if err == nil && f.Repeat == 1 {
		var b domain.Booking
		if b, err = w.booking.Book(ctx, req); err == nil {
			w.notify(ctx, r, v, noticeBooked, b)
			w.setFlash(r, v, l.T("site.booked", "place", placeName(f.CenterName, f.RoomName), "when", span(l, b.Start, b.End, loc)))
			http.Redirect(rw, r, SitePrefix, http.StatusSeeOther)
			return nil
		}
	}
	if err == nil {
		var series booking.Series
		if series, err = w.booking.BookRecurring(ctx, req, f.Repeat, f.Every); err == nil {
			type occ struct {
				When    string
				Booking *domain.Booking
				Refusal *refusal
			}
			occs := make([]occ, 0, len(series.Occurrences))
			for _, o := range series.Occurrences {
				x := occ{When: span(l, o.Start, o.End, loc), Booking: o.Booking}
				if o.Error != nil {
					x.Refusal = &refusal{Code: o.Error.Code, Field: o.Error.Field}
				} else {
					w.notify(ctx, r, v, noticeBooked, *o.Booking)
				}
				occs = append(occs, x)
			}
			w.render(rw, r, http.StatusOK, "site_series", v, map[string]any{"Form": &f, "Place": placeName(f.CenterName, f.RoomName),
				"Occurrences": occs, "Made": series.Made, "Failed": series.Failed})
			return nil
		}
	}
	rf := refusalOf(err)
	if rf == nil {
		return err
	}
	w.render(rw, r, http.StatusUnprocessableEntity, "site_book", v, map[string]any{"Form": &f, "Refusal": rf})
	return nil
}

func placeName(center, room string) string {
	if room == "" {
		return center
	}
	return room + " · " + center
}

// ownBooking is the member's booking {id}; another member's is answered
// as a missing one.
func (w *Web) ownBooking(ctx context.Context, r *http.Request, v *viewer) (domain.Booking, error) {
	id := r.PathValue("id")
	b, err := w.st.Booking(ctx, id)
	if protocol.ValidID(id) != nil || errors.Is(err, store.ErrNotFound) || (err == nil && b.MemberID != v.Member.ID) {
		return b, pageErr(http.StatusNotFound, "site.no_booking")
	}
	return b, err
}

// siteBooking shows one booking with its change and cancel forms.
func (w *Web) siteBooking(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	return w.showBooking(rw, r, v, http.StatusOK, nil, bookForm{})
}

func (w *Web) showBooking(rw http.ResponseWriter, r *http.Request, v *viewer, status int, rf *refusal, f bookForm) error {
	ctx, cancel := w.context(r)
	defer cancel()
	b, err := w.ownBooking(ctx, r, v)
	if err != nil {
		return err
	}
	pl := w.places()
	rows, err := w.rows(ctx, w.locale(r, v), pl, []domain.Booking{b})
	if err != nil {
		return err
	}
	_, loc, _ := pl.center(ctx, b.CenterID)
	if f.Date == "" {
		f = bookForm{Date: b.Start.In(loc).Format(siteDateLayout), From: b.Start.In(loc).Format(siteClockLayout), To: b.End.In(loc).Format(siteClockLayout)}
	}
	f.Zone = loc.String()
	w.render(rw, r, status, "site_booking", v, map[string]any{"Row": rows[0], "Form": f, "Refusal": rf})
	return nil
}

// siteChange moves a booking to other times of its day or another day.
func (w *Web) siteChange(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	b, err := w.ownBooking(ctx, r, v)
	if err != nil {
		return err
	}
	pl := w.places()
	c, loc, err := pl.center(ctx, b.CenterID)
	if err != nil {
		return err
	}
	f := bookForm{Date: r.PostFormValue("date"), From: r.PostFormValue("from"), To: r.PostFormValue("to")}
	start, end, err := localSpan(f.Date, f.From, f.To, loc)
	if err == nil {
		b, err = w.booking.Change(ctx, v.Member.ID, b.ID, start, end)
	}
	if rf := refusalOf(err); rf != nil {
		return w.showBooking(rw, r, v, http.StatusUnprocessableEntity, rf, f)
	} else if err != nil {
		return err
	}
	w.notify(ctx, r, v, noticeChanged, b)
	l := w.locale(r, v)
	w.setFlash(r, v, l.T("site.changed", "place", placeName(c.Name, pl.roomName(ctx, b.RoomID)), "when", span(l, b.Start, b.End, loc)))
	http.Redirect(rw, r, SitePrefix, http.StatusSeeOther)
	return nil
}

// siteCancel cancels a booking.
func (w *Web) siteCancel(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	b, err := w.ownBooking(ctx, r, v)
	if err != nil {
		return err
	}
	b, err = w.booking.Cancel(ctx, v.Member.ID, b.ID)
	if rf := refusalOf(err); rf != nil {
		return w.showBooking(rw, r, v, http.StatusUnprocessableEntity, rf, bookForm{})
	} else if err != nil {
		return err
	}
	w.notify(ctx, r, v, noticeCancelled, b)
	pl := w.places()
	c, loc, err := pl.center(ctx, b.CenterID)
	if err != nil {
		return err
	}
	l := w.locale(r, v)
	w.setFlash(r, v, l.T("site.cancelled", "place", placeName(c.Name, pl.roomName(ctx, b.RoomID)), "when", span(l, b.Start, b.End, loc)))
	http.Redirect(rw, r, SitePrefix, http.StatusSeeOther)
	return nil
}

// siteCancelRange cancels the member's bookings starting from the first
// date to the last date, both included, in the network's zone.
func (w *Web) siteCancelRange(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	l := w.locale(r, v)
	fromS, toS := r.PostFormValue("from"), r.PostFormValue("to")
	var res booking.RangeResult
	from, err := time.ParseInLocation(siteDateLayout, fromS, w.loc)
	if err != nil {
		err = invalid("from")
	}
	var to time.Time
	if err == nil {
		if to, err = time.ParseInLocation(siteDateLayout, toS, w.loc); err != nil {
			err = invalid("to")
		}
	}
	if err == nil {
		res, err = w.booking.CancelRange(ctx, v.Member.ID, from, to.AddDate(0, 0, 1))
	}
	if rf := refusalOf(err); rf != nil {
		w.render(rw, r, http.StatusUnprocessableEntity, "site_range", v, map[string]any{"From": fromS, "To": toS, "Refusal": rf})
		return nil
	} else if err != nil {
		return err
	}
	pl := w.places()
	cancelled, err := w.rows(ctx, l, pl, res.Cancelled)
	if err != nil {
		return err
	}
	for _, b := range res.Cancelled {
		w.notify(ctx, r, v, noticeCancelled, b)
	}
	type kept struct {
		siteRow
		Refusal *refusal
	}
	var keptRows []kept
	for _, o := range res.Kept {
		rs, err := w.rows(ctx, l, pl, []domain.Booking{*o.Booking})
		if err != nil {
			return err
		}
		keptRows = append(keptRows, kept{siteRow: rs[0], Refusal: &refusal{Code: o.Error.Code, Field: o.Error.Field}})
	}
	w.render(rw, r, http.StatusOK, "site_range", v, map[string]any{"From": fromS, "To": toS, "Cancelled": cancelled, "Kept": keptRows, "Done": true,
		"Span": l.Date(from, w.loc) + " – " + l.Date(to, w.loc)})
	return nil
}

// siteHours shows the member's own statement of a month: visits and
// credited hours from the crediting ledger.
func (w *Web) siteHours(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	p, err := w.periodOf(r)
	if err != nil {
		return err
	}
	data := map[string]any{"Period": p, "Periods": recentPeriods(w.now(), w.loc), "Available": w.cfg.Hours != nil,
		"Month": w.locale(r, v).Month(p.Start(w.loc))}
	if w.cfg.Hours != nil {
		ctx, cancel := w.context(r)
		defer cancel()
		st, err := w.cfg.Hours.Statement(ctx, v.Member.ID, p)
		if err != nil {
			return err
		}
		pl := w.places()
		names := map[string]string{}
		for _, vis := range st.Visits {
			if c, _, err := pl.center(ctx, vis.CenterID); err == nil {
				names[vis.CenterID] = c.Name
			}
		}
		data["Statement"], data["Names"] = st, names
	}
	w.render(rw, r, http.StatusOK, "site_hours", v, data)
	return nil
}

// denial is one refused tap of the member.
type denial struct {
	At     string
	Door   string
	Center string
	Reason string // the reason code (catalog reason.<code>)
}

// siteDenials shows the member's own recent refused taps.
func (w *Web) siteDenials(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	evs, _, err := recentEvents(ctx, w.st, store.EventFilter{MemberID: v.Member.ID, Kind: protocol.EventTap}, w.now(), siteDenials,
		func(e *domain.Event) bool { return e.Member == v.Member.ID && !e.Reason.Granted() })
	if err != nil {
		return err
	}
	l := w.locale(r, v)
	pl := w.places()
	out := make([]denial, 0, len(evs))
	for _, e := range evs {
		d := denial{Door: e.Door, Reason: string(e.Reason)}
		loc := w.loc
		if door, err := w.st.Door(ctx, e.Door); err == nil {
			d.Door = door.Name
			if c, cl, err := pl.center(ctx, door.CenterID); err == nil {
				d.Center, loc = c.Name, cl
			}
		}
		d.At = l.DateTime(time.UnixMilli(e.TimeMs), loc)
		out = append(out, d)
	}
	w.render(rw, r, http.StatusOK, "site_denials", v, map[string]any{"Denials": out})
	return nil
}
