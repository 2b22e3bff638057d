package booking

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
// moved earlier.
func (s *Service) CheckInTaps(ctx context.Context, door string, events []protocol.Event) (int, error) {
	var taps []tap
	for _, ev := range events {
		if t, ok := tapOf(door, ev); ok {
			taps = append(taps, t)
		}
	}
	return s.checkIn(ctx, door, taps)
}

// tap is what a check-in needs of a granted tap: the follower queues these
// rather than the ingest's whole commits.
type tap struct {
	door   string
	seq    uint64
	atMs   int64
	member string
}

// tapOf returns the tap of an event that can check a booking in: a granted
// tap of a member, with a time.
func tapOf(door string, ev protocol.Event) (tap, bool) {
	if ev.Kind != protocol.EventTap || !granted(ev.Reason) || ev.Member == "" || ev.TimeMs <= 0 {
		return tap{}, false
	}
	return tap{door: door, seq: ev.Seq, atMs: ev.TimeMs, member: ev.Member}, true
}

// checkIn checks in the bookings that taps at one door attend. One call
// costs one read of the door, one of the center's bookings over the taps'
// span and one of those bookings' check-ins, whatever the number of taps
// (the grace comes from a cache, see graceOf): the ingest's commits must
// not wait behind a query per tap. It writes only the check-ins that
// change: a booking gets at most one write, its earliest tap, and none
// when its stored check-in is that early already (a member taps at every
// door on the way in and out, and each write is a transaction).
func (s *Service) checkIn(ctx context.Context, door string, taps []tap) (int, error) {
	if len(taps) == 0 {
		return 0, nil
	}
	graces := make([]time.Duration, len(taps))
	var from, to time.Time
	for i, t := range taps {
		at := time.UnixMilli(t.atMs)
		graces[i] = s.graceOf(ctx, at)
		if from.IsZero() || at.Before(from) {
			from = at
		}
		if end := at.Add(graces[i] + time.Millisecond); end.After(to) {
			to = end
		}
	}
	d, err := s.st.Door(ctx, door)
	if err != nil {
		return 0, fmt.Errorf("booking: check-in at door %s: %w", door, err)
	}
	// Every booking a tap can attend overlaps [at, at+grace], so it is in
	// the center's bookings overlapping the taps' span.
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
	// The earliest tap attending each booking: start - grace ≤ at < end.
	first := map[string]store.CheckIn{}
	members := map[string]string{}
	var ids []string
	for i, t := range taps {
		at := time.UnixMilli(t.atMs)
		for _, b := range byMember[t.member] {
			if at.Before(b.Start.Add(-graces[i])) || !at.Before(b.End) {
				continue
			}
			c := store.CheckIn{BookingID: b.ID, AtMs: t.atMs, Door: t.door, Seq: t.seq}
			cur, ok := first[b.ID]
			if !ok {
				ids = append(ids, b.ID)
				members[b.ID] = t.member
			}
			if !ok || earlier(c, cur) {
				first[b.ID] = c
			}
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	have, err := s.st.CheckIns().CheckIns(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("booking: check-in at door %s: %w", door, err)
	}
	n := 0
	for _, id := range ids {
		c := first[id]
		if h, ok := have[id]; ok && !earlier(c, h) {
			continue // checked in by this tap or an earlier one already
		}
		changed, err := s.st.CheckIns().CheckIn(ctx, c)
		if errors.Is(err, store.ErrMissingRef) {
			continue // the booking was deleted since it was read: nothing to check in
		}
		if err != nil {
			return n, fmt.Errorf("booking: check-in of %s: %w", id, err)
		}
		if changed {
			n++
			s.checkedIn.Inc()
			s.log.InfoContext(ctx, "booking: checked in", "booking", id, "member", members[id], "door", c.Door, "at", stamp(time.UnixMilli(c.AtMs)))
		}
	}
	return n, nil
}

// earlier reports whether a's tap comes before b's in the store's order
// (time, then door, then seq: every replica keeps the same one).
func earlier(a, b store.CheckIn) bool {
	if a.AtMs != b.AtMs {
		return a.AtMs < b.AtMs
	}
	if a.Door != b.Door {
		return a.Door < b.Door
	}
	return a.Seq < b.Seq
}

// Defaults of FollowerOptions.
const (
	DefaultCursorEvery  = 10 * time.Second
	DefaultCursorStale  = time.Minute
	DefaultCursorMargin = time.Minute
	DefaultDrainTimeout = 10 * time.Second
)

// FollowerOptions configure a Follower.
type FollowerOptions struct {
	// ID names the follower's cursor in the store (default: "checkin-"
	// and 16 random hex digits, a new one per run).
	ID string
	// CursorEvery is how often the follower saves its cursor, retries
	// what failed and looks for cursors to take over.
	CursorEvery time.Duration
	// CursorStale: a cursor not saved for this long belongs to no running
	// follower (default DefaultCursorStale, at least 3 CursorEvery).
	CursorStale time.Duration
	// CursorMargin is how far before its oldest unapplied commit a cursor
	// points: it covers commits that the ingest stored concurrently and
	// hands over slightly out of order, and small clock steps.
	CursorMargin time.Duration
	// DrainTimeout bounds how long Run, once its context ends, keeps
	// checking queued commits in (what is left is taken over later).
	DrainTimeout time.Duration
}

// Follower checks bookings in from the ingest's commits: subscribe its
// Committed to the ingest's CommitFeed and run Run. Committed never
// blocks the ingest's writer: commits wait in an unbounded queue.
//
// Nothing queued is lost: the queue in memory is never the only record of
// a check-in to make. The follower keeps a cursor in the store
// (store.CheckInCursor): every commit received before its position is
// applied. It saves it every CursorEvery, and as stopped when Run ends,
// after draining the queue for at most DrainTimeout. A cursor that is
// stopped, or not saved for CursorStale (its process died), is taken over
// by a running follower (at its start, then every CursorEvery): it checks
// in from every granted tap stored since the cursor's position, then drops
// the cursor. Check-ins are idempotent, so taps applied twice are harmless.
// A commit whose check-in fails (the database is unreachable) stays queued
// and is retried.
type Follower struct {
	svc  *Service
	opts FollowerOptions
	mu   sync.Mutex
	q    []commit
	wake chan struct{}
	open bool // the cursor was saved once
}

// commit is one commit of the ingest.
type commit struct {
	receivedMs int64
	batches    []ingest.Batch
}

// NewFollower returns a Follower checking bookings in through svc.
func NewFollower(svc *Service, opts FollowerOptions) *Follower {
	if opts.ID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		opts.ID = "checkin-" + hex.EncodeToString(b)
	}
	if opts.CursorEvery <= 0 {
		opts.CursorEvery = DefaultCursorEvery
	}
	if opts.CursorStale <= 0 {
		opts.CursorStale = DefaultCursorStale
	}
	opts.CursorStale = max(opts.CursorStale, 3*opts.CursorEvery)
	if opts.CursorMargin <= 0 {
		opts.CursorMargin = DefaultCursorMargin
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	return &Follower{svc: svc, opts: opts, wake: make(chan struct{}, 1)}
}

// Committed takes a commit of the ingest (a CommitFeed receiver).
func (f *Follower) Committed(receivedMs int64, batches []ingest.Batch) {
	f.mu.Lock()
	f.q = append(f.q, commit{receivedMs: receivedMs, batches: batches})
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Open saves the follower's cursor: call it before the ingest starts, so
// that its commits are covered from the first one (Run calls it when it
// was not called).
func (f *Follower) Open(ctx context.Context) error {
	if err := f.saveCursor(ctx, false); err != nil {
		return err
	}
	f.open = true
	return nil
}

// Run checks bookings in from the queued commits and takes over the
// cursors of followers that stopped or died, until ctx ends; then it
// drains the queue (for at most DrainTimeout) and saves its cursor as
// stopped. It returns nil after a clean stop.
func (f *Follower) Run(ctx context.Context) error {
	if !f.open {
		if err := f.Open(ctx); err != nil {
			f.svc.log.WarnContext(ctx, "booking: check-in cursor not saved (retried)", "follower", f.opts.ID, "err", err)
		}
	}
	f.takeOver(ctx)
	tick := time.NewTicker(f.opts.CursorEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return f.stop(ctx)
		case <-f.wake:
			f.Drain(ctx)
		case <-tick.C:
			f.Drain(ctx)
			if err := f.saveCursor(ctx, false); err != nil && ctx.Err() == nil {
				f.svc.log.WarnContext(ctx, "booking: check-in cursor not saved (retried)", "follower", f.opts.ID, "err", err)
			}
			f.takeOver(ctx)
		}
	}
}

// stop drains the queue within DrainTimeout, whatever ctx (which ended),
// and saves the cursor as stopped, pointing before what is left.
func (f *Follower) stop(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.opts.DrainTimeout)
	defer cancel()
	f.Drain(dctx)
	err := f.saveCursor(dctx, true)
	f.mu.Lock()
	left := len(f.q)
	f.mu.Unlock()
	if left > 0 {
		f.svc.log.WarnContext(dctx, "booking: check-ins left to the next follower at stop", "follower", f.opts.ID, "commits", left)
	}
	if err != nil {
		return fmt.Errorf("booking: check-in cursor at stop: %w", err)
	}
	return nil
}

// Drain checks bookings in from every queued commit and returns. A commit
// whose check-in fails for a reason that may pass (the database) stays at
// the head of the queue and Drain returns: the next Drain retries it.
func (f *Follower) Drain(ctx context.Context) {
	for {
		f.mu.Lock()
		if len(f.q) == 0 {
			f.mu.Unlock()
			return
		}
		c := f.q[0]
		f.mu.Unlock()
		for i, b := range c.batches {
			if err := f.apply(ctx, b.Door, b.Events); err != nil {
				f.svc.checkInFailed.Inc()
				f.svc.log.WarnContext(ctx, "booking: check-in from door events failed (retried)", "door", b.Door, "err", err)
				f.mu.Lock()
				f.q[0].batches = c.batches[i:]
				f.mu.Unlock()
				return
			}
		}
		f.mu.Lock()
		f.q = f.q[1:]
		f.mu.Unlock()
	}
}

// apply checks bookings in from a door's events. What can never succeed
// (a door deleted since) is logged, counted and skipped; other errors are
// returned.
func (f *Follower) apply(ctx context.Context, door string, events []protocol.Event) error {
	_, err := f.svc.CheckInTaps(ctx, door, events)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, domain.ErrValidation) {
		f.svc.checkInFailed.Inc()
		f.svc.log.WarnContext(ctx, "booking: check-in from door events skipped", "door", door, "err", err)
		return nil
	}
	return err
}

// saveCursor saves the follower's cursor: before the oldest queued commit,
// or before now when nothing is queued (less the margin).
func (f *Follower) saveCursor(ctx context.Context, stopped bool) error {
	now := f.svc.now()
	pos := now.UnixMilli()
	f.mu.Lock()
	if len(f.q) > 0 {
		pos = f.q[0].receivedMs
	}
	f.mu.Unlock()
	return f.svc.st.CheckIns().SaveCheckInCursor(ctx, store.CheckInCursor{Follower: f.opts.ID,
		AppliedMs: pos - f.opts.CursorMargin.Milliseconds(), SeenMs: now.UnixMilli(), Stopped: stopped})
}

// takeOver checks in from the granted taps stored since the oldest cursor
// of the followers that stopped or died, then drops their cursors. A
// failure is logged; the next call tries again.
func (f *Follower) takeOver(ctx context.Context) {
	if err := f.takeOverOnce(ctx); err != nil && ctx.Err() == nil {
		f.svc.checkInFailed.Inc()
		f.svc.log.WarnContext(ctx, "booking: taking check-in cursors over failed (retried)", "follower", f.opts.ID, "err", err)
	}
}

func (f *Follower) takeOverOnce(ctx context.Context) error {
	curs, err := f.svc.st.CheckIns().CheckInCursors(ctx)
	if err != nil {
		return err
	}
	now := f.svc.now().UnixMilli()
	var gone []store.CheckInCursor
	from := int64(0)
	for _, c := range curs {
		if c.Follower == f.opts.ID || (!c.Stopped && now-c.SeenMs < f.opts.CursorStale.Milliseconds()) {
			continue
		}
		if len(gone) == 0 || c.AppliedMs < from {
			from = c.AppliedMs
		}
		gone = append(gone, c)
	}
	if len(gone) == 0 {
		return nil
	}
	taps, err := f.svc.st.CheckIns().GrantedTaps(ctx, from)
	if err != nil {
		return err
	}
	byDoor := map[string][]protocol.Event{}
	var doors []string
	for _, ev := range taps {
		if _, ok := byDoor[ev.Door]; !ok {
			doors = append(doors, ev.Door)
		}
		byDoor[ev.Door] = append(byDoor[ev.Door], ev.Event)
	}
	for _, d := range doors {
		evs := byDoor[d]
		for len(evs) > 0 {
			n := min(len(evs), takeOverChunk)
			if err := f.apply(ctx, d, evs[:n]); err != nil {
				return err
			}
			evs = evs[n:]
		}
	}
	for _, c := range gone {
		dropped, err := f.svc.st.CheckIns().DropCheckInCursor(ctx, c)
		if err != nil {
			return err
		}
		if dropped {
			f.svc.log.InfoContext(ctx, "booking: took a check-in cursor over", "follower", f.opts.ID, "from", c.Follower,
				"stopped", c.Stopped, "since", stamp(time.UnixMilli(c.AppliedMs)), "taps", len(taps))
		}
	}
	return nil
}

// takeOverChunk bounds the taps of one CheckInTaps call of a take-over
// (each reads the center's bookings over its taps' span).
const takeOverChunk = 500
