// Package booking is the booking site's domain below the web pages: places
// (desk pools and meeting rooms of each center), booking rules (per center,
// with network defaults), availability ("where can I work on Tuesday
// 9–17?", a center's week), and booking for members — book, change,
// cancel, recurring bookings, cancelling a date range — so that a center is
// never overbooked.
//
// Use it through a Service over the central's store:
//
//	svc := booking.New(st, booking.Options{})
//	free, err := svc.Availability(ctx, booking.Query{Start: t9, End: t17, People: 1})
//	b, err := svc.Book(ctx, booking.Request{MemberID: "m1", CenterID: "c1", Start: t9, End: t17})
//	var be *booking.Error
//	if errors.As(err, &be) { /* be.Code, be.Field: show it in the member's language */ }
//
// Check-in and no-show release (checkin.go, release.go): a Follower
// subscribed to the ingest's CommitFeed checks bookings in from granted
// taps; RunReleases releases room bookings nobody checked in to:
//
//	f := booking.NewFollower(svc, booking.FollowerOptions{})
//	commitFeed.Subscribe(f.Committed)
//	err := f.Open(ctx) // its cursor in the store, before the ingest starts
//	go f.Run(ctx)
//	go svc.RunReleases(ctx, 0)
//	ins, err := svc.CheckIns(ctx, []string{b.ID}) // for the site's pages
//
// Every refusal is a *Error with a stable machine Code (see the Code
// constants) and the Field it is about, so that the site translates it.
// Capacity is enforced by the store inside the booking's transaction
// (store.ErrFull for desks, store.ErrOverlap for rooms, on SQLite and
// PostgreSQL); the rules are checked here first. Bookings are written
// through the store, whose change feed brings each booking and
// cancellation to the doors' whitelists.
package booking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// Refusal codes (Error.Code). They are stable: the site maps each to a
// sentence in the member's language.
const (
	CodeInvalid          = "invalid"                // malformed input (Field says which)
	CodeUnknownCenter    = "unknown_center"         // no such center
	CodeUnknownRoom      = "unknown_room"           // no such room at the center
	CodeUnknownMember    = "unknown_member"         // no such member
	CodeUnknownBooking   = "unknown_booking"        // no such booking of the member
	CodeMemberSuspended  = "member_suspended"       // the member may not book
	CodeInPast           = "in_the_past"            // starts before now
	CodeTooFarAhead      = "too_far_ahead"          // past max_advance_days
	CodeTooShort         = "too_short"              // under min_minutes
	CodeTooLong          = "too_long"               // over max_minutes
	CodeClosed           = "outside_opening_hours"  // not within one opening span
	CodeTooManyOpen      = "too_many_open_bookings" // max_open_bookings reached
	CodeNomadsNoRooms    = "rooms_not_for_nomads"   // nomads_book_rooms is off
	CodeRoomTooSmall     = "room_too_small"         // people over the room's capacity
	CodeNoDesks          = "no_desk_left"           // the desk pool is full then
	CodeRoomTaken        = "room_taken"             // the room is booked then
	CodeNoDeskPool       = "no_desks"               // the center has no desks to book
	CodeDeadlinePassed   = "cancel_deadline_passed" // too late to change or cancel
	CodeAlreadyCancelled = "already_cancelled"      // the booking is cancelled
	CodeStarted          = "already_started"        // the booking has started
)

// Error is a refused booking request: a machine Code, the Field of the
// request it is about and an English Message for logs and API clients.
type Error struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Code + ": " + e.Field + ": " + e.Message
	}
	return e.Code + ": " + e.Message
}

func refuse(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Options configure a Service.
type Options struct {
	Now     func() time.Time  // default time.Now
	Logger  *slog.Logger      // default slog.Default()
	Metrics *metrics.Registry // optional: refusals by code, bookings made
	// NewID makes booking ids (default: "bk-" and 16 random hex digits).
	NewID func() string
	// CheckInGrace: a tap this long before a booking's start checks it in
	// (DefaultCheckInGrace when 0).
	CheckInGrace time.Duration
	// GraceAt, when set, is the grace in force at a time (serve gives the
	// crediting's, from the network settings), overriding CheckInGrace, so
	// that a check-in and an attended booking are the same thing. It is
	// asked once per hour of the taps and its answer kept for a minute;
	// a negative answer (the settings could not be read) means
	// CheckInGrace and is not kept.
	GraceAt func(ctx context.Context, at time.Time) time.Duration
	// Mailer queues the no-show release notices (nil: none are sent).
	Mailer Mailer
}

// Service books places. It holds no state of its own besides its
// configuration and the check-in's cache of the grace and of doors'
// centers (a minute old at most): several may share one store (and
// replicas one database).
type Service struct {
	st      store.Store
	ps      store.PlaceStore
	now     func() time.Time
	log     *slog.Logger
	newID   func() string
	refused *metrics.CounterVec
	made    *metrics.Counter
	grace   time.Duration
	graceAt func(ctx context.Context, at time.Time) time.Duration
	// graces (by the hour's Unix time) and doorCenters are what the
	// check-in reads for every batch and that changes seldom.
	graces      *expiring[int64, time.Duration]
	doorCenters *expiring[string, string]
	mailer      Mailer

	checkedIn *metrics.Counter
	// checkInFailed counts the failed steps of the check-in follower.
	checkInFailed *metrics.Counter
	// checkInOverflows counts the overflows of a check-in follower's queue.
	checkInOverflows *metrics.Counter
	released         *metrics.Counter
	waiting          *metrics.Gauge
}

// New returns a Service over the store.
func New(st store.Store, opts Options) *Service {
	s := &Service{st: st, now: opts.Now, log: opts.Logger, newID: opts.NewID, grace: opts.CheckInGrace, graceAt: opts.GraceAt, mailer: opts.Mailer,
		graces: newExpiring[int64, time.Duration](checkInCacheFor), doorCenters: newExpiring[string, string](checkInCacheFor)}
	if s.grace <= 0 {
		s.grace = DefaultCheckInGrace
	}
	if st != nil {
		s.ps = st.Places()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.newID == nil {
		s.newID = func() string {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			return "bk-" + hex.EncodeToString(b)
		}
	}
	reg := opts.Metrics
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	s.refused = reg.CounterVec("swc_booking_refused_total", "Booking requests refused, by code.", "code")
	s.made = reg.Counter("swc_booking_made_total", "Bookings made through the booking service.")
	s.checkedIn = reg.Counter("swc_booking_checkins_total", "Bookings checked in by a granted tap (or moved to an earlier tap).")
	s.checkInFailed = reg.Counter("swc_booking_checkin_failures_total", "Check-in follower steps that failed (retried) or taps skipped (a deleted door).")
	s.checkInOverflows = reg.Counter("swc_booking_checkin_overflows_total", "Check-in follower queue overflows (the follower then catches up from the stored events).")
	s.released = reg.Counter("swc_booking_released_total", "Room bookings released because nobody checked in.")
	s.waiting = reg.Gauge("swc_booking_release_waiting", "Room bookings due for release that wait for a door offline or with undelivered events (last pass).")
	return s
}

// fail logs and counts a refusal; other errors pass unchanged.
func (s *Service) fail(ctx context.Context, op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		s.refused.With(e.Code).Inc()
		s.log.InfoContext(ctx, "booking: refused", "op", op, "code", e.Code, "field", e.Field, "message", e.Message)
	}
	return err
}

// storeErr turns the store's refusals into *Error and wraps the rest.
func storeErr(err error, b *domain.Booking) error {
	var fe *domain.FieldError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrFull):
		return refuse(CodeNoDesks, "start", "every desk of center %s is booked at some time between %s and %s", b.CenterID, stamp(b.Start), stamp(b.End))
	case errors.Is(err, store.ErrTooMany):
		return refuse(CodeTooManyOpen, "member_id", "member %s holds the most open bookings allowed", b.MemberID)
	case errors.Is(err, store.ErrOverlap):
		return refuse(CodeRoomTaken, "room_id", "room %s is booked at some time between %s and %s", b.RoomID, stamp(b.Start), stamp(b.End))
	case errors.As(err, &fe):
		return refuse(CodeInvalid, fe.Field, "%s", fe.Message)
	case errors.Is(err, store.ErrMissingRef):
		var se *store.Error
		if errors.As(err, &se) {
			switch se.Field {
			case "member_id":
				return refuse(CodeUnknownMember, "member_id", "no member %s", b.MemberID)
			case "room_id":
				return refuse(CodeUnknownRoom, "room_id", "center %s has no room %s", b.CenterID, b.RoomID)
			}
		}
		return refuse(CodeUnknownCenter, "center_id", "no center %s", b.CenterID)
	}
	return fmt.Errorf("booking %s: %w", b.ID, err)
}

// checkInCacheFor is how long the check-in keeps the grace that GraceAt
// returned for an hour, and a door's center. The settings change at month
// starts: a minute-old grace is the one in force, and a changed setting
// reaches the check-ins within a minute (a deleted door's taps, too, check
// bookings in for a minute at most).
const checkInCacheFor = time.Minute

// graceOf is the check-in grace in force at t. GraceAt is asked once per
// hour of t (settings change at month starts, which are whole hours) per
// checkInCacheFor, so that a check-in batch costs no settings read.
func (s *Service) graceOf(ctx context.Context, t time.Time) time.Duration {
	if s.graceAt == nil {
		return s.grace
	}
	hour := t.Truncate(time.Hour)
	now := s.now()
	if g, ok := s.graces.get(now, hour.Unix()); ok {
		return g
	}
	g := s.graceAt(ctx, hour)
	if g < 0 {
		return s.grace // the settings could not be read: not kept, the next call asks again
	}
	s.graces.put(now, hour.Unix(), g)
	return g
}

// centerOf is the center of a door (which never changes), kept for
// checkInCacheFor.
func (s *Service) centerOf(ctx context.Context, door string) (string, error) {
	now := s.now()
	if c, ok := s.doorCenters.get(now, door); ok {
		return c, nil
	}
	d, err := s.st.Door(ctx, door)
	if err != nil {
		return "", err
	}
	s.doorCenters.put(now, door, d.CenterID)
	return d.CenterID, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
