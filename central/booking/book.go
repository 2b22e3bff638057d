package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Request asks for one booking: a desk (RoomID "") or a meeting room at a
// center, [Start, End), for the member. People is how many the room must
// seat (0: one). By is who asks (zero: the member themself); the rules
// apply whoever asks, since these are the site's bookings — staff who must
// override a rule use the store's bookings directly.
type Request struct {
	MemberID string    `json:"member_id"`
	CenterID string    `json:"center_id"`
	RoomID   string    `json:"room_id,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	People   int       `json:"people,omitempty"`
	By       domain.BookingCreator
}

// Book makes one booking after checking it against the center's rules and,
// in the store's transaction, its capacity.
func (s *Service) Book(ctx context.Context, r Request) (domain.Booking, error) {
	b, err := s.book(ctx, r)
	return b, s.fail(ctx, "book", err)
}

func (s *Service) book(ctx context.Context, r Request) (domain.Booking, error) {
	m, err := s.member(ctx, r.MemberID)
	if err != nil {
		return domain.Booking{}, err
	}
	c, err := s.center(ctx, r.CenterID)
	if err != nil {
		return domain.Booking{}, err
	}
	rules, err := s.Rules(ctx, c.ID)
	if err != nil {
		return domain.Booking{}, err
	}
	if err := s.check(ctx, &r, &m, &c, rules.BookingRules, s.now(), 0); err != nil {
		return domain.Booking{}, err
	}
	by := r.By
	if by.IsZero() {
		by = domain.BookingCreator{Role: domain.CreatorMember}
	}
	b := domain.Booking{ID: s.newID(), MemberID: m.ID, CenterID: c.ID, RoomID: r.RoomID,
		Start: r.Start.UTC(), End: r.End.UTC(), Status: domain.BookingConfirmed, CreatedBy: by}
	if err := storeErr(s.ps.CreateBookingWithin(ctx, b, rules.MaxOpenBookings, s.now()), &b); err != nil {
		return domain.Booking{}, err
	}
	s.made.Inc()
	return b, nil
}

// check applies the rules to r. open is how many of the member's open
// bookings the request replaces (1 for a change, 0 for a new booking).
func (s *Service) check(ctx context.Context, r *Request, m *domain.Member, c *domain.Center, rules domain.BookingRules, now time.Time, open int) error {
	switch {
	case r.Start.IsZero():
		return refuse(CodeInvalid, "start", "required")
	case r.End.IsZero():
		return refuse(CodeInvalid, "end", "required")
	case !r.End.After(r.Start):
		return refuse(CodeInvalid, "end", "must be after start")
	case r.Start.Truncate(time.Minute) != r.Start || r.End.Truncate(time.Minute) != r.End:
		return refuse(CodeInvalid, "start", "start and end are whole minutes")
	case r.People < 0 || r.People > domain.MaxRoomCapacity:
		return refuse(CodeInvalid, "people", "%d; want 1 to %d", r.People, domain.MaxRoomCapacity)
	case r.Start.Before(now):
		return refuse(CodeInPast, "start", "%s is in the past", stamp(r.Start))
	case r.Start.After(now.AddDate(0, 0, rules.MaxAdvanceDays)):
		return refuse(CodeTooFarAhead, "start", "bookings start at most %d days ahead", rules.MaxAdvanceDays)
	}
	length := r.End.Sub(r.Start)
	if length < time.Duration(rules.MinMinutes)*time.Minute {
		return refuse(CodeTooShort, "end", "a booking lasts at least %d minutes", rules.MinMinutes)
	}
	if length > time.Duration(rules.MaxMinutes)*time.Minute {
		return refuse(CodeTooLong, "end", "a booking lasts at most %d minutes", rules.MaxMinutes)
	}
	if rules.WithinOpeningHours {
		ok, err := WithinHours(c, r.Start, r.End)
		if err != nil {
			return err
		}
		if !ok {
			return refuse(CodeClosed, "start", "center %s is not open the whole time from %s to %s", c.ID, stamp(r.Start), stamp(r.End))
		}
	}
	if r.RoomID != "" {
		room, err := s.st.Room(ctx, r.RoomID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && room.CenterID != c.ID) {
			return refuse(CodeUnknownRoom, "room_id", "center %s has no room %s", c.ID, r.RoomID)
		}
		if err != nil {
			return fmt.Errorf("room %s: %w", r.RoomID, err)
		}
		if m.Nomadic() && !rules.NomadsBookRooms {
			return refuse(CodeNomadsNoRooms, "room_id", "center %s keeps its meeting rooms for its own members", c.ID)
		}
		if seats := max(room.Capacity, 1); max(r.People, 1) > seats {
			return refuse(CodeRoomTooSmall, "people", "room %s seats %d", room.ID, seats)
		}
	} else {
		pool, err := s.ps.DeskPool(ctx, c.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && pool.Capacity == 0) {
			return refuse(CodeNoDeskPool, "center_id", "center %s has no desks to book", c.ID)
		}
		if err != nil {
			return err
		}
		if r.People > 1 {
			return refuse(CodeInvalid, "people", "a desk booking is for one person; book a room, or one desk each")
		}
	}
	if rules.MaxOpenBookings > 0 {
		n, err := s.ps.CountOpenBookings(ctx, m.ID, now)
		if err != nil {
			return err
		}
		if n-open >= rules.MaxOpenBookings {
			return refuse(CodeTooManyOpen, "member_id", "%d open bookings is the most a member holds", rules.MaxOpenBookings)
		}
	}
	return nil
}

// WithinHours reports whether [start, end) lies inside one opening span of
// the center's local day (a span closing at 1440 reaches midnight).
func WithinHours(c *domain.Center, start, end time.Time) (bool, error) {
	loc, err := c.Location()
	if err != nil {
		return false, fmt.Errorf("center %s: time zone: %w", c.ID, err)
	}
	ls, le := start.In(loc), end.In(loc)
	y, mo, d := ls.Date()
	from := ls.Hour()*60 + ls.Minute()
	var to int
	switch ey, em, ed := le.Date(); {
	case ey == y && em == mo && ed == d:
		to = le.Hour()*60 + le.Minute()
		if le.Second() > 0 || le.Nanosecond() > 0 {
			to++
		}
	case le.Hour() == 0 && le.Minute() == 0 && le.Second() == 0 && le.Nanosecond() == 0 && le.Sub(ls) <= 25*time.Hour:
		to = 1440
	default:
		return false, nil
	}
	for _, sp := range c.Hours[ls.Weekday()] {
		if sp.Open <= from && to <= sp.Close {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) member(ctx context.Context, id string) (domain.Member, error) {
	if id == "" {
		return domain.Member{}, refuse(CodeUnknownMember, "member_id", "a member is required")
	}
	m, err := s.st.Member(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, refuse(CodeUnknownMember, "member_id", "no member %s", id)
	}
	if err != nil {
		return m, fmt.Errorf("member %s: %w", id, err)
	}
	if m.Status != domain.MemberActive {
		return m, refuse(CodeMemberSuspended, "member_id", "member %s is %s", id, m.Status)
	}
	return m, nil
}

// own returns the member's booking, which may still be changed or
// cancelled under the center's deadline.
func (s *Service) own(ctx context.Context, memberID, id string) (domain.Booking, Rules, error) {
	b, err := s.st.Booking(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && b.MemberID != memberID) {
		return b, Rules{}, refuse(CodeUnknownBooking, "id", "member %s has no booking %s", memberID, id)
	}
	if err != nil {
		return b, Rules{}, fmt.Errorf("booking %s: %w", id, err)
	}
	rules, err := s.Rules(ctx, b.CenterID)
	if err != nil {
		return b, rules, err
	}
	now := s.now()
	switch {
	case b.Status != domain.BookingConfirmed:
		return b, rules, refuse(CodeAlreadyCancelled, "id", "booking %s is cancelled", id)
	case !b.Start.After(now):
		return b, rules, refuse(CodeStarted, "id", "booking %s started at %s", id, stamp(b.Start))
	case now.Add(time.Duration(rules.CancelDeadlineMinutes) * time.Minute).After(b.Start):
		return b, rules, refuse(CodeDeadlinePassed, "id", "booking %s may be changed or cancelled until %d minutes before its start", id, rules.CancelDeadlineMinutes)
	}
	return b, rules, nil
}

// Change moves the member's booking to [start, end) (same place), under
// the rules, the cancellation deadline and the capacity.
func (s *Service) Change(ctx context.Context, memberID, id string, start, end time.Time) (domain.Booking, error) {
	b, err := s.change(ctx, memberID, id, start, end)
	return b, s.fail(ctx, "change", err)
}

func (s *Service) change(ctx context.Context, memberID, id string, start, end time.Time) (domain.Booking, error) {
	m, err := s.member(ctx, memberID)
	if err != nil {
		return domain.Booking{}, err
	}
	b, rules, err := s.own(ctx, memberID, id)
	if err != nil {
		return domain.Booking{}, err
	}
	c, err := s.center(ctx, b.CenterID)
	if err != nil {
		return domain.Booking{}, err
	}
	r := Request{MemberID: memberID, CenterID: b.CenterID, RoomID: b.RoomID, Start: start, End: end}
	if err := s.check(ctx, &r, &m, &c, rules.BookingRules, s.now(), 1); err != nil {
		return domain.Booking{}, err
	}
	b.Start, b.End = start.UTC(), end.UTC()
	if err := storeErr(s.st.UpdateBooking(ctx, b), &b); err != nil {
		return domain.Booking{}, err
	}
	return b, nil
}

// Cancel cancels the member's booking (kept, with status cancelled), up to
// the center's cancellation deadline. The doors lose the right at once.
func (s *Service) Cancel(ctx context.Context, memberID, id string) (domain.Booking, error) {
	b, _, err := s.own(ctx, memberID, id)
	if err == nil {
		b.Status = domain.BookingCancelled
		err = storeErr(s.st.UpdateBooking(ctx, b), &b)
	}
	return b, s.fail(ctx, "cancel", err)
}

// Occurrence is one date of a series or a range: the booking made or
// cancelled, or why not.
type Occurrence struct {
	Start   time.Time       `json:"start"`
	End     time.Time       `json:"end"`
	Booking *domain.Booking `json:"booking,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

// Series is what BookRecurring did, one Occurrence per date in order.
type Series struct {
	Occurrences []Occurrence `json:"occurrences"`
	Made        int          `json:"made"`
	Failed      int          `json:"failed"`
}

// MaxOccurrences bounds a recurring booking.
const MaxOccurrences = 52

// BookRecurring books r and the same local times every everyWeeks weeks,
// count dates in all (such as every Tuesday for 8 weeks: count 8, every 1).
// Each date is checked and booked on its own; the dates that cannot be made
// are reported with their reason and do not stop the others. An error is
// returned only when the request itself is wrong or the store fails.
func (s *Service) BookRecurring(ctx context.Context, r Request, count, everyWeeks int) (Series, error) {
	if count < 1 || count > MaxOccurrences {
		return Series{}, s.fail(ctx, "recurring", refuse(CodeInvalid, "count", "%d; want 1 to %d", count, MaxOccurrences))
	}
	if everyWeeks < 1 || everyWeeks > 8 {
		return Series{}, s.fail(ctx, "recurring", refuse(CodeInvalid, "every_weeks", "%d; want 1 to 8", everyWeeks))
	}
	c, err := s.center(ctx, r.CenterID)
	if err != nil {
		return Series{}, s.fail(ctx, "recurring", err)
	}
	loc, err := c.Location()
	if err != nil {
		return Series{}, err
	}
	length := r.End.Sub(r.Start)
	ls := r.Start.In(loc)
	out := Series{Occurrences: make([]Occurrence, 0, count)}
	for i := range count {
		one := r
		one.Start = ls.AddDate(0, 0, 7*everyWeeks*i).UTC() // same wall time across a DST change
		one.End = one.Start.Add(length)
		o := Occurrence{Start: one.Start, End: one.End}
		b, err := s.Book(ctx, one)
		var be *Error
		switch {
		case err == nil:
			o.Booking = &b
			out.Made++
		case errors.As(err, &be):
			o.Error = be
			out.Failed++
		default:
			return out, err
		}
		out.Occurrences = append(out.Occurrences, o)
	}
	return out, nil
}

// RangeResult is what CancelRange did.
type RangeResult struct {
	Cancelled []domain.Booking `json:"cancelled"`
	// Kept are the member's bookings in the range that could not be
	// cancelled (already started, past the deadline), with the reason.
	Kept []Occurrence `json:"kept"`
}

// MaxRange bounds the time range of CancelRange and MyBookings.
const MaxRange = 366 * 24 * time.Hour

// CancelRange cancels every confirmed booking of the member that starts in
// [from, to) (holidays), each under its center's deadline.
func (s *Service) CancelRange(ctx context.Context, memberID string, from, to time.Time) (RangeResult, error) {
	return s.CancelRangeAt(ctx, memberID, nil, from, to)
}

// CancelRangeAt is CancelRange for the bookings at the listed centers only
// (nil: every center), for staff who act within their own centers.
func (s *Service) CancelRangeAt(ctx context.Context, memberID string, centerIDs []string, from, to time.Time) (RangeResult, error) {
	res := RangeResult{Cancelled: []domain.Booking{}, Kept: []Occurrence{}}
	if _, err := s.member(ctx, memberID); err != nil {
		return res, s.fail(ctx, "cancel_range", err)
	}
	if err := checkRange(from, to); err != nil {
		return res, s.fail(ctx, "cancel_range", err)
	}
	bs, err := s.MyBookings(ctx, memberID, from, to)
	if err != nil {
		return res, err
	}
	for _, b := range bs {
		if b.Status != domain.BookingConfirmed || b.Start.Before(from) || (centerIDs != nil && !slices.Contains(centerIDs, b.CenterID)) {
			continue
		}
		c, err := s.Cancel(ctx, memberID, b.ID)
		var be *Error
		switch {
		case err == nil:
			res.Cancelled = append(res.Cancelled, c)
		case errors.As(err, &be):
			b := b
			res.Kept = append(res.Kept, Occurrence{Start: b.Start, End: b.End, Booking: &b, Error: be})
		default:
			return res, err
		}
	}
	return res, nil
}

func checkRange(from, to time.Time) error {
	switch {
	case from.IsZero():
		return refuse(CodeInvalid, "from", "required")
	case to.IsZero():
		return refuse(CodeInvalid, "to", "required")
	case !to.After(from):
		return refuse(CodeInvalid, "to", "must be after from")
	case to.Sub(from) > MaxRange:
		return refuse(CodeInvalid, "to", "a range spans at most %d days", int(MaxRange/(24*time.Hour)))
	}
	return nil
}

// MyBookings returns the member's bookings (confirmed and cancelled) that
// overlap [from, to), by start time.
func (s *Service) MyBookings(ctx context.Context, memberID string, from, to time.Time) ([]domain.Booking, error) {
	if err := checkRange(from, to); err != nil {
		return nil, s.fail(ctx, "my_bookings", err)
	}
	bs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Booking], error) {
		return s.st.ListBookings(ctx, store.BookingFilter{MemberID: memberID, From: from, To: to, PageRequest: p})
	})
	if err != nil {
		return nil, err
	}
	if bs == nil {
		bs = []domain.Booking{}
	}
	sort.Slice(bs, func(i, j int) bool {
		if !bs[i].Start.Equal(bs[j].Start) {
			return bs[i].Start.Before(bs[j].Start)
		}
		return bs[i].ID < bs[j].ID
	})
	return bs, nil
}
