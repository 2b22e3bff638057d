package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Release of room no-shows.
//
// A confirmed room booking without a check-in ReleaseAfterMinutes (the
// center's booking rules; 0: never) after its start is released: its
// status becomes released, so the room is free again in the availability,
// the change feed takes the right off the doors' whitelists, the member is
// told by e-mail, and the crediting counts it as a no-show per the no-show
// policy (a released booking is booked and not attended). Desk bookings are
// never released.
//
// A door that is offline, or whose last status reported events still in
// its outbox, or that was not heard from since the release time, may hold
// the member's tap: while any door of the booking's center is so, the
// release waits; once every door is online, heard from after the release
// time with an empty outbox, the stored events decide (a tap found there checks the booking
// in and it is never released). The release is one conditional UPDATE in
// the store, so of several replicas running the loop exactly one releases
// a booking and sends its e-mail.

// Mailer queues e-mail; *mail.Outbox is one (Enqueue is idempotent on key).
type Mailer interface {
	Enqueue(ctx context.Context, key string, m mail.Message) (id string, queued bool, err error)
}

// DefaultReleaseEvery is how often RunReleases looks for no-shows when
// given 0.
const DefaultReleaseEvery = 30 * time.Second

// releaseBatch bounds one pass's candidates.
const releaseBatch = 500

// Waiting is a room booking due for release that waits for a door of its
// center (offline, or with events not yet delivered).
type Waiting struct {
	Booking domain.Booking
	Door    string
	Why     string // "offline", "outbox" or "stale" (not heard from since the release time)
}

// ReleaseReport is what one pass of ReleaseNoShows did.
type ReleaseReport struct {
	Released  []domain.Booking // released by this call (and e-mailed)
	CheckedIn []string         // found checked in from stored events instead
	Waiting   []Waiting        // due, waiting for a door
}

// ReleaseNoShows releases the room bookings due for release at the
// service's now, as the package comment of release.go says.
func (s *Service) ReleaseNoShows(ctx context.Context) (ReleaseReport, error) {
	ctx = audit.WithSystem(ctx, "booking-release")
	var rep ReleaseReport
	now := s.now()
	cands, err := s.st.CheckIns().ReleaseCandidates(ctx, now.UnixMilli(), now.UnixMilli(), releaseBatch)
	if err != nil {
		return rep, fmt.Errorf("booking: release: %w", err)
	}
	after := map[string]time.Duration{}
	doors := map[string][]store.DoorHealth{}
	for _, b := range cands {
		wait, ok := after[b.CenterID]
		if !ok {
			r, err := s.Rules(ctx, b.CenterID)
			if err != nil {
				return rep, fmt.Errorf("booking: release: rules of %s: %w", b.CenterID, err)
			}
			wait = time.Duration(r.ReleaseAfterMinutes) * time.Minute
			after[b.CenterID] = wait
		}
		if wait == 0 || now.Before(b.Start.Add(wait)) {
			continue
		}
		hs, ok := doors[b.CenterID]
		if !ok {
			if hs, err = s.st.Health().ListDoorHealth(ctx, []string{b.CenterID}); err != nil {
				return rep, fmt.Errorf("booking: release: doors of %s: %w", b.CenterID, err)
			}
			doors[b.CenterID] = hs
		}
		if w, behind := doorBehind(hs, b.Start.Add(wait)); behind {
			w.Booking = b
			rep.Waiting = append(rep.Waiting, w)
			continue
		}
		in, err := s.checkInFromStored(ctx, b)
		if err != nil {
			return rep, err
		}
		if in {
			rep.CheckedIn = append(rep.CheckedIn, b.ID)
			continue
		}
		rel, released, err := s.st.CheckIns().Release(ctx, b.ID)
		if err != nil {
			return rep, fmt.Errorf("booking: release %s: %w", b.ID, err)
		}
		if !released {
			continue // checked in, cancelled or released meanwhile (another replica)
		}
		s.released.Inc()
		s.log.InfoContext(ctx, "booking: room booking released, nobody checked in", "booking", b.ID, "member", b.MemberID,
			"center", b.CenterID, "room", b.RoomID, "start", stamp(b.Start))
		rep.Released = append(rep.Released, rel)
		if err := s.tellReleased(ctx, rel); err != nil {
			s.log.WarnContext(ctx, "booking: release notice not queued", "booking", b.ID, "err", err)
		}
	}
	s.waiting.Set(float64(len(rep.Waiting)))
	return rep, nil
}

// doorBehind returns the first door that may still hold taps made before
// due: offline ("offline"), or whose last status reported a non-empty
// outbox ("outbox"), or not heard from since due ("stale": a link that died
// silently is seen offline only when the broker's keepalive expires; a
// status received after due with an empty outbox proves every earlier tap
// was delivered). Doors that never reported are not waited for (they hold
// no taps).
func doorBehind(hs []store.DoorHealth, due time.Time) (Waiting, bool) {
	for _, h := range hs {
		switch {
		case h.State == store.DoorOffline:
			return Waiting{Door: h.Door, Why: "offline"}, true
		case h.State == store.DoorOnline && h.OutboxDepth > 0:
			return Waiting{Door: h.Door, Why: "outbox"}, true
		case h.State == store.DoorOnline && h.LastSeenMs < due.UnixMilli():
			return Waiting{Door: h.Door, Why: "stale"}, true
		}
	}
	return Waiting{}, false
}

// checkInFromStored looks for a granted tap of the booking's member at its
// center among the stored events (the follower may lag, or run on another
// replica) and checks the booking in when it finds one.
func (s *Service) checkInFromStored(ctx context.Context, b domain.Booking) (bool, error) {
	evs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Event], error) {
		return s.st.ListEvents(ctx, store.EventFilter{CenterIDs: []string{b.CenterID}, MemberID: b.MemberID,
			Kind: protocol.EventTap, From: b.Start.Add(-s.graceOf(ctx, b.Start)), To: b.End, PageRequest: p})
	})
	if err != nil {
		return false, fmt.Errorf("booking: release %s: events: %w", b.ID, err)
	}
	for _, ev := range evs {
		if !granted(ev.Reason) {
			continue
		}
		if _, err := s.st.CheckIns().CheckIn(ctx, store.CheckIn{BookingID: b.ID, AtMs: ev.TimeMs, Door: ev.Door, Seq: ev.Seq}); err != nil {
			return false, fmt.Errorf("booking: check-in of %s: %w", b.ID, err)
		}
		return true, nil
	}
	return false, nil
}

// tellReleased queues the member's e-mail (key booking-released/ID: one
// notice however often it is asked for).
func (s *Service) tellReleased(ctx context.Context, b domain.Booking) error {
	if s.mailer == nil {
		return nil
	}
	m, err := s.st.Member(ctx, b.MemberID)
	if err != nil {
		return fmt.Errorf("member %s: %w", b.MemberID, err)
	}
	if m.Email == "" {
		return nil
	}
	c, err := s.st.Center(ctx, b.CenterID)
	if err != nil {
		return fmt.Errorf("center %s: %w", b.CenterID, err)
	}
	room := b.RoomID
	if r, err := s.st.Room(ctx, b.RoomID); err == nil && r.Name != "" {
		room = r.Name
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	when := b.Start.In(loc).Format("2006-01-02 15:04") + "–" + b.End.In(loc).Format("15:04")
	text := fmt.Sprintf(`Bonjour %[1]s,

Personne n'a badgé pour votre réservation de la salle %[2]s (%[3]s) le %[4]s : elle a été libérée et la salle est à nouveau disponible. La réservation est comptée comme une absence.

Dag %[1]s,

Niemand badgede in voor uw reservering van zaal %[2]s (%[3]s) op %[4]s: ze is vrijgegeven en de zaal is weer vrij. De reservering telt als niet opgedaagd.

Hello %[1]s,

Nobody badged in for your booking of room %[2]s (%[3]s) on %[4]s: it was released and the room is free again. The booking counts as a no-show.
`, m.Name, room, c.Name, when)
	_, _, err = s.mailer.Enqueue(ctx, "booking-released/"+b.ID, mail.Message{To: m.Email,
		Subject: "Réservation libérée / Reservering vrijgegeven / Booking released: " + room + ", " + when, Text: text})
	if errors.Is(err, mail.ErrDisabled) {
		return nil
	}
	return err
}

// RunReleases runs ReleaseNoShows every `every` (DefaultReleaseEvery when
// 0) until ctx ends. Run it on every replica: the store's conditional
// release keeps them from releasing a booking twice.
func (s *Service) RunReleases(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = DefaultReleaseEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.ReleaseNoShows(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "booking: release pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
