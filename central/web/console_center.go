package web

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// viewedCenter returns the viewer's centers and the center the request is
// about (console.center).
func (c *console) viewedCenter(r *http.Request, v *viewer) ([]domain.Center, domain.Center, error) {
	cs, err := c.centers(r, v)
	if err != nil {
		return nil, domain.Center{}, err
	}
	center, err := c.center(r, v, cs)
	return cs, center, err
}

// localCenter is viewedCenter with the center's time zone.
func (c *console) localCenter(r *http.Request, v *viewer) ([]domain.Center, domain.Center, *time.Location, error) {
	cs, center, err := c.viewedCenter(r, v)
	if err != nil {
		return nil, domain.Center{}, nil, err
	}
	loc, err := center.Location()
	if err != nil {
		return nil, domain.Center{}, nil, err
	}
	return cs, center, loc, nil
}

// ---- bookings calendar

// calDay is one day of the calendar with its confirmed bookings.
type calDay struct {
	Date     time.Time
	Weekday  int // 0 Sunday, as time.Weekday
	Today    bool
	Bookings []calBooking
}

// calBooking is a booking as the calendar shows it.
type calBooking struct {
	domain.Booking
	MemberName string
	Place      string // the room's name; "" for a desk
}

// roomOf returns the room {id} of the center, or the answer about a
// missing room.
func roomOf(rooms []domain.Room, id string) (domain.Room, error) {
	for _, x := range rooms {
		if x.ID == id {
			return x, nil
		}
	}
	return domain.Room{}, hidden("room", id)
}

// calendar shows a center's bookings by day or week, all places, the
// desks or one room, with a form to book for a member and a cancel button
// on each booking.
func (c *console) calendar(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	cs, center, loc, err := c.localCenter(r, v)
	if err != nil {
		return err
	}
	ctx := r.Context()
	q := r.URL.Query()
	rooms, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Room], error) {
		return c.w.st.ListRooms(ctx, store.RoomFilter{CenterIDs: []string{center.ID}, PageRequest: p})
	})
	if err != nil {
		return err
	}
	place := q.Get("room")
	if place != "" && place != "desk" {
		if _, err := roomOf(rooms, place); err != nil {
			return err
		}
	}
	now := c.w.now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	day := today
	if s := q.Get("day"); s != "" {
		if day, err = time.ParseInLocation(time.DateOnly, s, loc); err != nil {
			return pageErr(http.StatusBadRequest, "console.bad_day")
		}
	}
	view := q.Get("view")
	n := 1
	if view != "day" {
		view, n = "week", 7
		day = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // Monday
	}
	end := day.AddDate(0, 0, n)
	f := store.BookingFilter{CenterIDs: []string{center.ID}, Status: domain.BookingConfirmed, From: day, To: end}
	if place != "" && place != "desk" {
		f.RoomID = place
	}
	bs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Booking], error) {
		f.PageRequest = p
		return c.w.st.ListBookings(ctx, f)
	})
	if err != nil {
		return err
	}
	names := map[string]string{}
	days := make([]calDay, n)
	for i := range days {
		days[i].Date = day.AddDate(0, 0, i)
		days[i].Today = days[i].Date.Equal(today)
		days[i].Weekday = int(days[i].Date.Weekday())
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].Start.Before(bs[j].Start) })
	for _, b := range bs {
		if place == "desk" && b.RoomID != "" {
			continue
		}
		if _, ok := names[b.MemberID]; !ok {
			names[b.MemberID] = b.MemberID
			if m, err := c.w.st.Member(ctx, b.MemberID); err == nil {
				names[b.MemberID] = m.Name
			}
		}
		cb := calBooking{Booking: b, MemberName: names[b.MemberID]}
		if b.RoomID != "" {
			cb.Place = b.RoomID
			if rm, err := roomOf(rooms, b.RoomID); err == nil {
				cb.Place = rm.Name
			}
		}
		for i := range days { // a booking shows on each day it overlaps
			if b.Start.Before(days[i].Date.AddDate(0, 0, 1)) && b.End.After(days[i].Date) {
				days[i].Bookings = append(days[i].Bookings, cb)
			}
		}
	}
	link := func(d time.Time) string {
		return queryWith("/bookings", "center", center.ID, "room", place, "view", view, "day", d.Format(time.DateOnly))
	}
	c.w.render(rw, r, http.StatusOK, "console_bookings", v, map[string]any{"Centers": cs, "Center": center, "Rooms": rooms, "Room": place,
		"View": view, "Days": days, "Loc": loc, "Day": day.Format(time.DateOnly), "Today": today.Format(time.DateOnly),
		"Prev": link(day.AddDate(0, 0, -n)), "Next": link(day.AddDate(0, 0, n)),
		"DayLink":  queryWith("/bookings", "center", center.ID, "room", place, "view", "day", "day", day.Format(time.DateOnly)),
		"WeekLink": queryWith("/bookings", "center", center.ID, "room", place, "view", "week", "day", day.Format(time.DateOnly)),
		"Back":     r.URL.RequestURI(), "Flash": c.w.takeFlash(r, v)})
	return nil
}

// bookFor books a place for a member through the booking service (its
// rules apply), recorded as made by the center's staff or the cooperative.
// Form: center, member, room ("" for a desk), day, from, to (local times).
func (c *console) bookFor(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	_, center, loc, err := c.localCenter(r, v)
	if err != nil {
		return err
	}
	to := localPath(r.PostFormValue("back"), queryWith("/bookings", "center", center.ID))
	day := r.PostFormValue("day")
	start, err1 := time.ParseInLocation(time.DateOnly+" 15:04", day+" "+r.PostFormValue("from"), loc)
	end, err2 := time.ParseInLocation(time.DateOnly+" 15:04", day+" "+r.PostFormValue("to"), loc)
	if err1 != nil || err2 != nil {
		return c.back(rw, r, v, to, "console.refused", "why", "day, from, to: want a date and times such as 09:00")
	}
	by := domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: v.ID}
	if !v.Admin() {
		by = domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: center.ID, TokenID: v.ID}
	}
	b, err := c.bk.Book(r.Context(), booking.Request{MemberID: strings.TrimSpace(r.PostFormValue("member")), CenterID: center.ID,
		RoomID: strings.TrimSpace(r.PostFormValue("room")), Start: start, End: end, By: by})
	if err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, to, "console.booked", "member", b.MemberID)
}

// cancelFor cancels a booking of the viewer's centers for its member
// through the booking service (the center's cancellation deadline applies).
func (c *console) cancelFor(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	id := r.PathValue("id")
	if protocol.ValidID(id) != nil {
		return hidden("booking", id)
	}
	b, err := c.w.st.Booking(r.Context(), id)
	if err != nil {
		return err
	}
	if !v.Sees(b.CenterID) {
		return hidden("booking", id)
	}
	to := localPath(r.PostFormValue("back"), queryWith("/bookings", "center", b.CenterID))
	if _, err := c.bk.Cancel(r.Context(), b.MemberID, b.ID); err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, to, "console.cancelled", "member", b.MemberID)
}

// ---- who is in now

// present is a member in the center now.
type present struct {
	Member, Name, Door string
	Since              time.Time
}

// presence lists who is in a center now, from its doors' events: a member
// is in when a granted tap of theirs at one of the center's entry doors
// (not an exit reader) happened today (the center's local day) and less
// than the default visit length (network settings) ago, and no tap of
// theirs at an exit reader of the center came after it. Rex (push-button)
// exits name nobody, so a member who leaves by the button stays listed
// until the default visit length has passed.
func (c *console) presence(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	cs, center, loc, err := c.localCenter(r, v)
	if err != nil {
		return err
	}
	ctx := r.Context()
	ver, err := settings.Current(ctx, c.w.st, c.w.now())
	if err != nil {
		return err
	}
	visit := time.Duration(ver.Settings.DefaultVisitMinutes) * time.Minute
	now := c.w.now().In(loc)
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if cut := now.Add(-visit); cut.After(from) {
		from = cut
	}
	doors, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
		return c.w.st.ListDoors(ctx, store.DoorFilter{CenterIDs: []string{center.ID}, PageRequest: p})
	})
	if err != nil {
		return err
	}
	byID := map[string]domain.Door{}
	for _, d := range doors {
		byID[d.ID] = d
	}
	evs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Event], error) {
		return c.w.st.ListEvents(ctx, store.EventFilter{CenterIDs: []string{center.ID}, Kind: protocol.EventTap, From: from, To: now.Add(time.Minute), PageRequest: p})
	})
	if err != nil {
		return err
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeMs < evs[j].TimeMs })
	in := map[string]present{}
	for _, e := range evs {
		if e.Member == "" {
			continue
		}
		d := byID[e.Door]
		switch {
		case d.Exit:
			delete(in, e.Member)
		case e.Reason.Granted():
			in[e.Member] = present{Member: e.Member, Name: e.Member, Door: d.Name, Since: time.UnixMilli(e.TimeMs)}
		}
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	var list []present
	for _, p := range in {
		if m, err := c.w.st.Member(ctx, p.Member); err == nil {
			p.Name = m.Name
		}
		if matches(q, p.Member, p.Name) {
			list = append(list, p)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Since.Before(list[j].Since) })
	items, pg := pageSlice(r, list)
	c.w.render(rw, r, http.StatusOK, "console_presence", v, map[string]any{"Centers": cs, "Center": center, "People": items, "Pager": pg,
		"Query": q, "Visit": ver.Settings.DefaultVisitMinutes, "Loc": loc,
		"EventsCSV": queryWith("/presence/events.csv", "center", center.ID), "EventDays": eventsCSVDays})
	return nil
}

// eventsCSVDays is how many days back the events CSV reaches by default.
const eventsCSVDays = 31

// eventsCSV downloads a center's door events, oldest first: the last
// eventsCSVDays days, or [from, to) given as dates (the center's days).
// The event search of the console (console-ops) has its own export with
// every filter; this one is the center's plain record.
func (c *console) eventsCSV(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	_, center, loc, err := c.localCenter(r, v)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	to := c.w.now()
	from := to.AddDate(0, 0, -eventsCSVDays)
	for k, p := range map[string]*time.Time{"from": &from, "to": &to} {
		if s := q.Get(k); s != "" {
			d, err := time.ParseInLocation(time.DateOnly, s, loc)
			if err != nil {
				return pageErr(http.StatusBadRequest, "console.bad_day")
			}
			*p = d
		}
	}
	ctx := r.Context()
	evs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Event], error) {
		return c.w.st.ListEvents(ctx, store.EventFilter{CenterIDs: []string{center.ID}, From: from, To: to, PageRequest: p})
	})
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(evs))
	for _, e := range evs {
		rows = append(rows, []string{time.UnixMilli(e.TimeMs).UTC().Format(time.RFC3339Nano), e.Door, e.Center, string(e.Kind), string(e.Reason),
			string(e.UID), e.Member, strconv.FormatBool(e.Trusted), time.UnixMilli(e.ReceivedMs).UTC().Format(time.RFC3339Nano), strconv.FormatUint(e.Seq, 10)})
	}
	return writeCSV(rw, "events-"+center.ID+".csv", []string{"time", "door", "center", "kind", "reason", "uid", "member", "clock_trusted", "received", "seq"}, rows)
}

// ---- staff

// staffRow is a staff assignment with the member's name.
type staffRow struct {
	domain.Staff
	Name string
}

// staff lists who is staff of the viewer's centers (the cooperative also
// sees network staff, center ""), with forms to add and remove.
func (c *console) staff(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	cs, err := c.centers(r, v)
	if err != nil {
		return err
	}
	ctx := r.Context()
	f := store.StaffFilter{}
	if !v.Admin() {
		f.CenterIDs = v.scope()
	}
	all, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Staff], error) {
		f.PageRequest = p
		return c.w.st.ListStaff(ctx, f)
	})
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	var rows []staffRow
	for _, s := range all {
		row := staffRow{Staff: s, Name: s.MemberID}
		if m, err := c.w.st.Member(ctx, s.MemberID); err == nil {
			row.Name = m.Name
		}
		if matches(q, row.MemberID, row.Name, row.CenterID) {
			rows = append(rows, row)
		}
	}
	items, pg := pageSlice(r, rows)
	c.w.render(rw, r, http.StatusOK, "console_staff", v, map[string]any{"Centers": cs, "Staff": items, "Pager": pg, "Query": q,
		"Flash": c.w.takeFlash(r, v)})
	return nil
}

// staffForm reads a staff assignment from the form; a manager names only
// their center, the cooperative also the network ("").
func staffForm(r *http.Request, v *viewer) (domain.Staff, error) {
	s := domain.Staff{MemberID: strings.TrimSpace(r.PostFormValue("member")), CenterID: strings.TrimSpace(r.PostFormValue("center"))}
	if !v.Sees(s.CenterID) && !(v.Admin() && s.CenterID == "") {
		return s, forbidden(s.CenterID)
	}
	return s, nil
}

func (c *console) staffAdd(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	s, err := staffForm(r, v)
	if err != nil {
		return err
	}
	if err := c.w.st.AddStaff(r.Context(), s); err != nil {
		return c.refused(rw, r, v, "/staff", err)
	}
	return c.back(rw, r, v, "/staff", "console.staff_added", "member", s.MemberID)
}

func (c *console) staffRemove(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	s, err := staffForm(r, v)
	if err != nil {
		return err
	}
	if err := c.w.st.RemoveStaff(r.Context(), s); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return err
		}
		return c.refused(rw, r, v, "/staff", err)
	}
	return c.back(rw, r, v, "/staff", "console.staff_removed", "member", s.MemberID)
}

// ---- places

// places shows a center's desk pool, rooms and booking rules, with forms.
func (c *console) places(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	cs, center, err := c.viewedCenter(r, v)
	if err != nil {
		return err
	}
	p, err := c.bk.Places(r.Context(), center.ID)
	if err != nil {
		return err
	}
	rules, err := c.bk.Rules(r.Context(), center.ID)
	if err != nil {
		return err
	}
	var desks []string
	for _, d := range p.Desks.Desks {
		desks = append(desks, d.ID+" "+d.Name)
	}
	c.w.render(rw, r, http.StatusOK, "console_places", v, map[string]any{"Centers": cs, "Center": center, "Places": p, "Rules": rules,
		"DeskLines": strings.Join(desks, "\n"), "Flash": c.w.takeFlash(r, v)})
	return nil
}

// placesCenter is the form's center, which the viewer must see.
func (c *console) placesCenter(r *http.Request, v *viewer) (string, error) {
	_, center, err := c.viewedCenter(r, v)
	return center.ID, err
}

// desksSave sets the desk pool: a capacity, or named desks (one "id name"
// a line), whose number is then the capacity.
func (c *console) desksSave(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := c.placesCenter(r, v)
	if err != nil {
		return err
	}
	to := queryWith("/places", "center", id)
	p := domain.DeskPool{CenterID: id}
	for _, line := range strings.Split(r.PostFormValue("desks"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			did, name, _ := strings.Cut(line, " ")
			p.Desks = append(p.Desks, domain.Desk{ID: did, Name: strings.TrimSpace(name)})
		}
	}
	if p.Capacity, err = strconv.Atoi(strings.TrimSpace(r.PostFormValue("capacity"))); err != nil && len(p.Desks) == 0 {
		return c.back(rw, r, v, to, "console.refused", "why", "capacity: want a number of desks")
	}
	if len(p.Desks) > 0 {
		p.Capacity = len(p.Desks)
	}
	if err := c.bk.SetDeskPool(r.Context(), p); err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, to, "console.saved")
}

// roomSave creates or updates a room of the center (form: id, name,
// capacity, equipment as a comma list).
func (c *console) roomSave(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := c.placesCenter(r, v)
	if err != nil {
		return err
	}
	to := queryWith("/places", "center", id)
	rm := domain.Room{ID: strings.TrimSpace(r.PostFormValue("id")), CenterID: id, Name: strings.TrimSpace(r.PostFormValue("name")),
		Equipment: splitList(r.PostFormValue("equipment"))}
	if s := strings.TrimSpace(r.PostFormValue("capacity")); s != "" {
		if rm.Capacity, err = strconv.Atoi(s); err != nil {
			return c.back(rw, r, v, to, "console.refused", "why", "capacity: want a number of people")
		}
	}
	old, err := c.w.st.Room(r.Context(), rm.ID)
	switch {
	case err == nil && old.CenterID != id:
		return hidden("room", rm.ID)
	case err == nil:
		err = c.w.st.UpdateRoom(r.Context(), rm)
	case errors.Is(err, store.ErrNotFound):
		err = c.w.st.CreateRoom(r.Context(), rm)
	}
	if err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, to, "console.saved")
}

// rulesSave sets the center's booking rules.
func (c *console) rulesSave(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := c.placesCenter(r, v)
	if err != nil {
		return err
	}
	to := queryWith("/places", "center", id)
	var bad []string
	num := func(k string) int {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue(k)))
		if err != nil {
			bad = append(bad, k)
		}
		return n
	}
	rules := domain.BookingRules{MaxAdvanceDays: num("max_advance_days"), MinMinutes: num("min_minutes"), MaxMinutes: num("max_minutes"),
		MaxOpenBookings: num("max_open_bookings"), CancelDeadlineMinutes: num("cancel_deadline_minutes"),
		NomadsBookRooms: r.PostFormValue("nomads_book_rooms") == "on", WithinOpeningHours: r.PostFormValue("within_opening_hours") == "on"}
	if len(bad) > 0 {
		return c.back(rw, r, v, to, "console.refused", "why", strings.Join(bad, ", ")+": want whole numbers")
	}
	if err := c.bk.SetRules(r.Context(), id, rules); err != nil {
		return c.refused(rw, r, v, to, err)
	}
	return c.back(rw, r, v, to, "console.saved")
}
