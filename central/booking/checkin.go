package booking

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Check-in by badge.
//
// The first granted tap of a booking's member at any door of the booking's
// center within [start - grace, end) checks the booking in: the same
// evidence as an attended booking of PRODUCT.md 4.6, so that the site and
// the crediting never disagree. Any door of the center counts, not only the
// room's own door: a member who came in by the entrance is in the building
// (most rooms have no reader of their own). Any granted reason counts
// (granted_booking, and granted_pass or granted_staff while the member has
// a booking there). Events arrive late and twice: the store keeps the
// earliest tap, whatever the order.

// DefaultCheckInGrace is Options.CheckInGrace when it is zero: the
// crediting's default grace.
const DefaultCheckInGrace = 15 * time.Minute

// CheckIns returns the check-ins of the bookings that have one, by booking
// id (the site's "checked in at 09:02, Front door").
func (s *Service) CheckIns(ctx context.Context, bookingIDs []string) (map[string]store.CheckIn, error) {
	return s.st.CheckIns().CheckIns(ctx, bookingIDs)
}

// granted reports whether a tap was granted.
func granted(r protocol.Reason) bool { return strings.HasPrefix(string(r), "granted_") }

// CheckInTaps checks in the bookings that the door's granted taps attend;
// other events are ignored. It returns how many check-ins were stored or
// moved earlier. One batch costs one read of the door, one grace per hour
// of its taps (settings change at month starts, which are whole hours) and
// one read of the center's bookings over the batch's span, whatever the
// number of taps: the ingest's commits must not wait behind a query per
// tap.
func (s *Service) CheckInTaps(ctx context.Context, door string, events []protocol.Event) (int, error) {
	type tap struct {
		member string
		seq    uint64
		at     time.Time
		grace  time.Duration
	}
	var taps []tap
	graces := map[time.Time]time.Duration{}
	var from, to time.Time
	for _, ev := range events {
		if ev.Kind != protocol.EventTap || !granted(ev.Reason) || ev.Member == "" || ev.TimeMs <= 0 {
			continue
		}
		at := time.UnixMilli(ev.TimeMs)
		hour := at.Truncate(time.Hour)
		g, ok := graces[hour]
		if !ok {
			g = s.graceOf(ctx, at)
			graces[hour] = g
		}
		taps = append(taps, tap{member: ev.Member, seq: ev.Seq, at: at, grace: g})
		if from.IsZero() || at.Before(from) {
			from = at
		}
		if end := at.Add(g + time.Millisecond); end.After(to) {
			to = end
		}
	}
	if len(taps) == 0 {
		return 0, nil
	}
	d, err := s.st.Door(ctx, door)
	if err != nil {
		return 0, fmt.Errorf("booking: check-in at door %s: %w", door, err)
	}
	// Every booking a tap can attend overlaps [at, at+grace], so it is in
	// the center's bookings overlapping the batch's span.
	bs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Booking], error) {
		return s.st.ListBookings(ctx, store.BookingFilter{CenterIDs: []string{d.CenterID}, From: from, To: to, PageRequest: p})
	})
	if err != nil {
		return 0, fmt.Errorf("booking: check-in at door %s: %w", door, err)
	}
	byMember := map[string][]domain.Booking{}
	for _, b := range bs {
		if b.Status != domain.BookingCancelled {
			byMember[b.MemberID] = append(byMember[b.MemberID], b)
		}
	}
	n := 0
	for _, t := range taps {
		got, err := s.checkInTap(ctx, byMember[t.member], door, t.member, t.seq, t.at, t.grace)
		n += got
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkInTap checks in every booking among bs (the member's at the
// center) that a tap at `at` attends: start - grace ≤ at < end.
func (s *Service) checkInTap(ctx context.Context, bs []domain.Booking, door, member string, seq uint64, at time.Time, grace time.Duration) (int, error) {
	n := 0
	for _, b := range bs {
		if at.Before(b.Start.Add(-grace)) || !at.Before(b.End) {
			continue
		}
		changed, err := s.st.CheckIns().CheckIn(ctx, store.CheckIn{BookingID: b.ID, AtMs: at.UnixMilli(), Door: door, Seq: seq})
		if err != nil {
			return n, fmt.Errorf("booking: check-in of %s: %w", b.ID, err)
		}
		if changed {
			n++
			s.checkedIn.Inc()
			s.log.InfoContext(ctx, "booking: checked in", "booking", b.ID, "member", member, "door", door, "at", stamp(at))
		}
	}
	return n, nil
}

// Follower checks bookings in from the ingest's commits: subscribe its
// Committed to the ingest's CommitFeed and run Run. Committed never
// blocks the ingest's writer: commits wait in an unbounded queue.
type Follower struct {
	svc  *Service
	mu   sync.Mutex
	q    []ingest.Batch
	wake chan struct{}
}

// NewFollower returns a Follower checking bookings in through svc.
func NewFollower(svc *Service) *Follower {
	return &Follower{svc: svc, wake: make(chan struct{}, 1)}
}

// Committed takes a commit of the ingest (a CommitFeed receiver).
func (f *Follower) Committed(_ int64, batches []ingest.Batch) {
	f.mu.Lock()
	f.q = append(f.q, batches...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run checks bookings in from the queued commits until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.wake:
		}
		f.Drain(ctx)
	}
}

// Drain checks bookings in from every queued commit and returns.
func (f *Follower) Drain(ctx context.Context) {
	for {
		f.mu.Lock()
		q := f.q
		f.q = nil
		f.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, b := range q {
			if _, err := f.svc.CheckInTaps(ctx, b.Door, b.Events); err != nil {
				f.svc.log.WarnContext(ctx, "booking: check-in from door events failed", "door", b.Door, "err", err)
			}
		}
	}
}
