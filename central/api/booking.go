package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// The booking site's endpoints (issue 15), over central/booking.
//
// Member-facing: availability, a center's week, and a member's bookings
// (list, book, change, cancel, recurring, cancel a date range) under
// /members/{id}/bookings. Until members sign in themselves, admin and
// manager tokens call them on a member's behalf; a manager acts at their own
// centers only. The booking rules apply whoever calls.
//
// Staff-facing: a center's places and desk pool, its booking rules, and the
// network's default rules.

// bookingStatus is the HTTP status of each refusal code.
func bookingStatus(code string) int {
	switch code {
	case booking.CodeInvalid:
		return http.StatusBadRequest
	case booking.CodeUnknownBooking:
		return http.StatusNotFound
	case booking.CodeNoDesks, booking.CodeRoomTaken:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// bookingErr turns a *booking.Error into the API's error shape.
func bookingErr(err error) error {
	var be *booking.Error
	if errors.As(err, &be) {
		return &Error{Status: bookingStatus(be.Code), Code: be.Code, Field: be.Field, Message: be.Message}
	}
	return err
}

// parseTime reads an RFC 3339 body or query time.
func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, errInvalid(field, "required")
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errInvalid(field, "%q is not an RFC 3339 time such as 2026-03-03T09:00:00+01:00", v)
	}
	return t, nil
}

// ---- availability

func (s *Server) availability(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := newQuery(r, "center_id", "start", "end", "people", "kind")
	center := q.id("center_id")
	kind := q.oneOf("kind", booking.KindDesk, booking.KindRoom)
	if q.err != nil {
		return q.err
	}
	start, err := parseTime("start", q.v.Get("start"))
	if err != nil {
		return err
	}
	end, err := parseTime("end", q.v.Get("end"))
	if err != nil {
		return err
	}
	people := 0
	if v := q.v.Get("people"); v != "" {
		if people, err = strconv.Atoi(v); err != nil || people < 1 || people > domain.MaxRoomCapacity {
			return errInvalid("people", "%q; want 1 to %d", v, domain.MaxRoomCapacity)
		}
	}
	if center != "" && !p.in(center) {
		return hidden("center", center)
	}
	ids := narrow(p, center)
	res, err := s.bk.Availability(r.Context(), booking.Query{CenterIDs: ids, Start: start, End: end, People: people, Kind: kind})
	if err != nil {
		return bookingErr(err)
	}
	return writeJSON(w, http.StatusOK, list[booking.CenterAvailability]{Items: res})
}

func (s *Server) centerWeek(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := newQuery(r, "date")
	if q.err != nil {
		return q.err
	}
	if !p.in(id) {
		return hidden("center", id)
	}
	c, err := s.st.Center(r.Context(), id)
	if err != nil {
		return err
	}
	loc, err := c.Location()
	if err != nil {
		return err
	}
	day := s.now().In(loc)
	if v := q.v.Get("date"); v != "" {
		if day, err = time.ParseInLocation("2006-01-02", v, loc); err != nil {
			return errInvalid("date", "%q is not a date such as 2026-03-02", v)
		}
	}
	wk, err := s.bk.Week(r.Context(), id, day)
	if err != nil {
		return bookingErr(err)
	}
	return writeJSON(w, http.StatusOK, wk)
}

// ---- a member's bookings

// bookBody is a booking request of the API.
type bookBody struct {
	CenterID   string `json:"center_id"`
	RoomID     string `json:"room_id,omitempty"`
	Start      string `json:"start"`
	End        string `json:"end"`
	People     int    `json:"people,omitempty"`
	Count      int    `json:"count,omitempty"`       // recurring only
	EveryWeeks int    `json:"every_weeks,omitempty"` // recurring only; default 1
}

func (s *Server) bookRequest(w http.ResponseWriter, r *http.Request, p *principal, recurring bool) (booking.Request, bookBody, error) {
	member, err := pathID(r, "id")
	if err != nil {
		return booking.Request{}, bookBody{}, err
	}
	var b bookBody
	if err := s.decode(w, r, &b); err != nil {
		return booking.Request{}, b, err
	}
	if !recurring && (b.Count != 0 || b.EveryWeeks != 0) {
		return booking.Request{}, b, errInvalid("count", "count and every_weeks are for POST /members/{id}/bookings/recurring")
	}
	if b.CenterID == "" {
		return booking.Request{}, b, errInvalid("center_id", "required")
	}
	if !p.in(b.CenterID) {
		return booking.Request{}, b, outside("center " + b.CenterID)
	}
	req := booking.Request{MemberID: member, CenterID: b.CenterID, RoomID: b.RoomID, People: b.People, By: creatorOf(p, b.CenterID)}
	if req.Start, err = parseTime("start", b.Start); err != nil {
		return req, b, err
	}
	if req.End, err = parseTime("end", b.End); err != nil {
		return req, b, err
	}
	return req, b, nil
}

func (s *Server) memberBook(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, _, err := s.bookRequest(w, r, p, false)
	if err != nil {
		return err
	}
	b, err := s.bk.Book(r.Context(), req)
	if err != nil {
		return bookingErr(err)
	}
	return created(w, b)
}

func (s *Server) memberBookRecurring(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, body, err := s.bookRequest(w, r, p, true)
	if err != nil {
		return err
	}
	every := body.EveryWeeks
	if every == 0 {
		every = 1
	}
	series, err := s.bk.BookRecurring(r.Context(), req, body.Count, every)
	if err != nil {
		return bookingErr(err)
	}
	status := http.StatusCreated
	if series.Made == 0 {
		status = http.StatusUnprocessableEntity
	}
	return writeJSON(w, status, series)
}

// memberBooking returns the member's booking the caller may act on: a
// booking at another center reads as missing.
func (s *Server) memberBooking(r *http.Request, p *principal) (string, domain.Booking, error) {
	member, err := pathID(r, "id")
	if err != nil {
		return "", domain.Booking{}, err
	}
	id, err := pathID(r, "booking_id")
	if err != nil {
		return "", domain.Booking{}, err
	}
	b, err := s.st.Booking(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (b.MemberID != member || !p.in(b.CenterID))) {
		return "", b, &Error{Status: http.StatusNotFound, Code: booking.CodeUnknownBooking, Field: "booking_id",
			Message: "member " + member + " has no booking " + id}
	}
	return member, b, err
}

func (s *Server) memberChange(w http.ResponseWriter, r *http.Request, p *principal) error {
	member, old, err := s.memberBooking(r, p)
	if err != nil {
		return err
	}
	var body struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	if err := s.decode(w, r, &body); err != nil {
		return err
	}
	start, err := parseTime("start", body.Start)
	if err != nil {
		return err
	}
	end, err := parseTime("end", body.End)
	if err != nil {
		return err
	}
	b, err := s.bk.Change(r.Context(), member, old.ID, start, end)
	if err != nil {
		return bookingErr(err)
	}
	return writeJSON(w, http.StatusOK, b)
}

func (s *Server) memberCancel(w http.ResponseWriter, r *http.Request, p *principal) error {
	member, old, err := s.memberBooking(r, p)
	if err != nil {
		return err
	}
	b, err := s.bk.Cancel(r.Context(), member, old.ID)
	if err != nil {
		return bookingErr(err)
	}
	return writeJSON(w, http.StatusOK, b)
}

func (s *Server) memberCancelRange(w http.ResponseWriter, r *http.Request, p *principal) error {
	member, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var body struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := s.decode(w, r, &body); err != nil {
		return err
	}
	from, err := parseTime("from", body.From)
	if err != nil {
		return err
	}
	to, err := parseTime("to", body.To)
	if err != nil {
		return err
	}
	res, err := s.bk.CancelRangeAt(r.Context(), member, p.scope(), from, to)
	if err != nil {
		return bookingErr(err)
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) memberBookings(w http.ResponseWriter, r *http.Request, p *principal) error {
	member, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := newQuery(r, "from", "to")
	from, to := q.time("from"), q.time("to")
	if q.err != nil {
		return q.err
	}
	if from.IsZero() {
		from = s.now()
	}
	if to.IsZero() {
		to = from.Add(booking.MaxRange)
	}
	bs, err := s.bk.MyBookings(r.Context(), member, from, to)
	if err != nil {
		return bookingErr(err)
	}
	if scope := p.scope(); scope != nil {
		bs = slices.DeleteFunc(bs, func(b domain.Booking) bool { return !slices.Contains(scope, b.CenterID) })
	}
	return writeJSON(w, http.StatusOK, list[domain.Booking]{Items: bs})
}

// ---- places and rules (staff)

func (s *Server) centerIn(r *http.Request, p *principal) (string, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return "", err
	}
	if !p.in(id) {
		return "", hidden("center", id)
	}
	return id, nil
}

func (s *Server) getPlaces(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := s.centerIn(r, p)
	if err != nil {
		return err
	}
	pl, err := s.bk.Places(r.Context(), id)
	if err != nil {
		return bookingErrNotFound(err, id)
	}
	return writeJSON(w, http.StatusOK, pl)
}

// bookingErrNotFound answers an unknown center in the path with 404.
func bookingErrNotFound(err error, id string) error {
	var be *booking.Error
	if errors.As(err, &be) && be.Code == booking.CodeUnknownCenter {
		return hidden("center", id)
	}
	return bookingErr(err)
}

func (s *Server) putDesks(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := s.centerIn(r, p)
	if err != nil {
		return err
	}
	var x domain.DeskPool
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := sameID(&x.CenterID, id, "center_id"); err != nil {
		return err
	}
	if err := s.bk.SetDeskPool(r.Context(), x); err != nil {
		return bookingErrNotFound(err, id)
	}
	return writeJSON(w, http.StatusOK, x)
}

func (s *Server) deleteDesks(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := s.centerIn(r, p)
	if err != nil {
		return err
	}
	if err := s.bk.RemoveDeskPool(r.Context(), id); err != nil {
		var be *booking.Error
		if errors.As(err, &be) {
			return errNotFound("center " + id + " has no desk pool")
		}
		return err
	}
	return noContent(w)
}

func (s *Server) getRules(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := ""
	if r.PathValue("id") != "" {
		var err error
		if id, err = s.centerIn(r, p); err != nil {
			return err
		}
	}
	rules, err := s.bk.Rules(r.Context(), id)
	if err != nil {
		return bookingErrNotFound(err, id)
	}
	return writeJSON(w, http.StatusOK, rules)
}

func (s *Server) putRules(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := ""
	if r.PathValue("id") != "" {
		var err error
		if id, err = s.centerIn(r, p); err != nil {
			return err
		}
	}
	x := domain.UndecodedBookingRules() // release_after_minutes left out: its default
	if err := s.decode(w, r, &x); err != nil {
		return err
	}
	if err := s.bk.SetRules(r.Context(), id, x); err != nil {
		return bookingErrNotFound(err, id)
	}
	return s.getRules(w, r, p)
}

func (s *Server) deleteRules(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := ""
	if r.PathValue("id") != "" {
		var err error
		if id, err = s.centerIn(r, p); err != nil {
			return err
		}
	}
	if err := s.bk.ResetRules(r.Context(), id); err != nil {
		return bookingErrNotFound(err, id)
	}
	return noContent(w)
}
