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
	return s.checkIn(ctx, taps, nil)
}

// tap is what a check-in needs of a granted tap: the follower queues these
// rather than the ingest's whole commits.
type tap struct {
	receivedMs int64 // when the central received it (the follower's cursor)
	door       string
	seq        uint64
	atMs       int64
	member     string
}

// tapOf returns the tap of an event that can check a booking in: a granted
// tap of a member, with a time.
func tapOf(door string, ev protocol.Event) (tap, bool) {
	if ev.Kind != protocol.EventTap || !granted(ev.Reason) || ev.Member == "" || ev.TimeMs <= 0 {
		return tap{}, false
	}
	return tap{door: door, seq: ev.Seq, atMs: ev.TimeMs, member: ev.Member}, true
}

// checkIn checks in the bookings that the taps (of any doors) attend. One
// call costs one read of the bookings of the taps' members over the taps'
// span (a query per 1,000 members) and one read of the candidate bookings'
// check-ins, whatever the number of taps (the grace and the doors' centers
// come from a cache, see graceOf):
// the ingest's commits must not wait behind a query per tap. It writes
// only the check-ins that change: a booking gets at most one write, its
// earliest tap, and none when its stored check-in is that early already (a
// member taps at every door on the way in and out, and each write is a
// transaction).
//
// A door that cannot be read is an error, unless skip is set and the door
// is unknown (deleted since): then skip is told and its taps are ignored.
func (s *Service) checkIn(ctx context.Context, taps []tap, skip func(door string, err error)) (int, error) {
	if len(taps) == 0 {
		return 0, nil
	}
	centers := map[string]string{} // by door; "" for a door skipped
	var from, to time.Time         // the span of the taps and their graces
	members := map[string]bool{}
	var memberIDs []string
	graces := make([]time.Duration, len(taps))
	for i, t := range taps {
		c, ok := centers[t.door]
		if !ok {
			var err error
			c, err = s.centerOf(ctx, t.door)
			if err != nil {
				if skip == nil || !(errors.Is(err, store.ErrNotFound) || errors.Is(err, domain.ErrValidation)) {
					return 0, fmt.Errorf("booking: check-in at door %s: %w", t.door, err)
				}
				skip(t.door, err)
				c = ""
			}
			centers[t.door] = c
		}
		if c == "" {
			continue
		}
		at := time.UnixMilli(t.atMs)
		graces[i] = s.graceOf(ctx, at)
		if len(memberIDs) == 0 || at.Before(from) {
			from = at
		}
		if end := at.Add(graces[i] + time.Millisecond); len(memberIDs) == 0 || end.After(to) {
			to = end
		}
		if !members[t.member] {
			members[t.member] = true
			memberIDs = append(memberIDs, t.member)
		}
	}
	if len(memberIDs) == 0 {
		return 0, nil
	}
	// Every booking a tap can attend is of the tap's member and overlaps
	// [at, at+grace], so it is in the bookings of the taps' members
	// overlapping the span of the taps; it counts only at its own center,
	// which is checked here rather than in the query: the query reads the
	// members' bookings by the index of their member, not every booking of
	// the centers (thousands a day, which the taps attend few of).
	bs, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Booking], error) {
		return s.st.ListBookings(ctx, store.BookingFilter{MemberIDs: memberIDs, From: from, To: to, PageRequest: p})
	})
	if err != nil {
		return 0, fmt.Errorf("booking: check-in: bookings of %d members: %w", len(memberIDs), err)
	}
	type who struct{ center, member string }
	byMember := map[who][]domain.Booking{}
	for _, b := range bs {
		if b.Status != domain.BookingCancelled {
			byMember[who{b.CenterID, b.MemberID}] = append(byMember[who{b.CenterID, b.MemberID}], b)
		}
	}
	// The earliest tap attending each booking: start - grace ≤ at < end.
	first := map[string]store.CheckIn{}
	memberOf := map[string]string{} // by booking
	var ids []string
	for i, t := range taps {
		at := time.UnixMilli(t.atMs)
		for _, b := range byMember[who{centers[t.door], t.member}] {
			if at.Before(b.Start.Add(-graces[i])) || !at.Before(b.End) {
				continue
			}
			c := store.CheckIn{BookingID: b.ID, AtMs: t.atMs, Door: t.door, Seq: t.seq}
			cur, ok := first[b.ID]
			if !ok {
				ids = append(ids, b.ID)
				memberOf[b.ID] = t.member
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
		return 0, fmt.Errorf("booking: check-ins of %d bookings: %w", len(ids), err)
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
			s.log.InfoContext(ctx, "booking: checked in", "booking", id, "member", memberOf[id], "door", c.Door, "at", stamp(time.UnixMilli(c.AtMs)))
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
	DefaultStopMargin   = 5 * time.Second
	DefaultDrainTimeout = time.Second
	DefaultQueueTaps    = 100_000
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
	// StopMargin replaces CursorMargin in the cursor saved when Run ends
	// (default DefaultStopMargin, at most CursorMargin): the central stops
	// its ingest first, which hands every commit it stored over before it
	// returns, so no commit can come late. The next follower re-applies
	// the taps since the cursor: a minute of a 10,000-door network's
	// taps cost seconds of a restart.
	StopMargin time.Duration
	// DrainTimeout bounds how long Run, once its context ends, keeps
	// checking queued taps in (what is left is taken over later, from the
	// store: the cursor makes a short bound safe). It bounds a restart's
	// stop beside the crediting's (posting.Config.StopWithin), a second.
	DrainTimeout time.Duration
	// QueueTaps bounds the granted taps waiting in memory (default
	// DefaultQueueTaps): beyond it the follower catches up from the store.
	QueueTaps int
}

// Follower checks bookings in from the ingest's commits: subscribe its
// Committed to the ingest's CommitFeed and run Run. Committed never
// blocks the ingest's writer: it queues the commit's granted taps (only
// what a check-in needs) and returns.
//
// The queue is bounded (QueueTaps). A commit that would exceed it is not
// queued, nor any after it, until the queue is drained: the follower then
// queues again and reads the granted taps received since the first commit
// it left out from the store (as a take-over does), so a follower that
// falls behind holds a bounded memory and catches up in chunks.
//
// Nothing queued is lost: the queue in memory is never the only record of
// a check-in to make. The follower keeps a cursor in the store
// (store.CheckInCursor): every commit received before its position is
// applied; it never passes the oldest commit queued or left out. It saves
// it every CursorEvery, and as stopped when Run ends, after draining the
// queue for at most DrainTimeout. A cursor that is stopped, or not saved
// for CursorStale (its process died), is taken over by a running follower
// (at its start, then every CursorEvery): it checks in from every granted
// tap stored since the cursor's position, then drops the cursor.
// Check-ins are idempotent, so taps applied twice are harmless (and cheap:
// a tap of a booking checked in as early needs no write). Taps whose
// check-in fails (the database is unreachable) stay queued and are
// retried.
type Follower struct {
	svc  *Service
	opts FollowerOptions
	mu   sync.Mutex
	q    []tap // by receipt
	// overflowed: commits are not queued since the one received at
	// overflowMs, which would have overflowed the queue.
	overflowed bool
	overflowMs int64
	// behind: the taps received since behindMs (less the margin) are to
	// be read from the store, once the queue that overflowed is drained.
	behind   bool
	behindMs int64
	wake     chan struct{}
	open     bool // the cursor was saved once
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
	if opts.StopMargin <= 0 {
		opts.StopMargin = DefaultStopMargin
	}
	opts.StopMargin = min(opts.StopMargin, opts.CursorMargin)
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.QueueTaps <= 0 {
		opts.QueueTaps = DefaultQueueTaps
	}
	return &Follower{svc: svc, opts: opts, wake: make(chan struct{}, 1)}
}

// Committed takes a commit of the ingest (a CommitFeed receiver): it
// queues the commit's granted taps, unless the queue overflows.
func (f *Follower) Committed(receivedMs int64, batches []ingest.Batch) {
	n := 0
	for _, b := range batches {
		for _, ev := range b.Events {
			if _, ok := tapOf(b.Door, ev); ok {
				n++
			}
		}
	}
	if n == 0 {
		return
	}
	f.mu.Lock()
	switch {
	case f.overflowed:
		// Left out: read from the store once the queue is drained.
		f.mu.Unlock()
		return
	case len(f.q)+n > f.opts.QueueTaps:
		f.overflowed, f.overflowMs = true, receivedMs
		queued := len(f.q)
		f.mu.Unlock()
		f.svc.checkInOverflows.Inc()
		f.svc.log.Warn("booking: check-in queue full: taps from now on are read from the store once it is drained",
			"follower", f.opts.ID, "queued", queued, "commit_taps", n, "since", stamp(time.UnixMilli(receivedMs)))
	default:
		for _, b := range batches {
			for _, ev := range b.Events {
				if t, ok := tapOf(b.Door, ev); ok {
					t.receivedMs = receivedMs
					f.q = append(f.q, t)
				}
			}
		}
		f.mu.Unlock()
	}
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

// Run checks bookings in from the queued taps and takes over the cursors
// of followers that stopped or died, until ctx ends; then it drains the
// queue (for at most DrainTimeout) and saves its cursor as stopped. It
// returns nil after a clean stop.
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

// cursorSaveTimeout bounds the save of the cursor at stop, after the
// drain (which may have used all of DrainTimeout).
const cursorSaveTimeout = 5 * time.Second

// stop drains the queue within DrainTimeout, whatever ctx (which ended),
// and saves the cursor as stopped, pointing before what is left.
func (f *Follower) stop(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.opts.DrainTimeout)
	f.Drain(dctx)
	cancel()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cursorSaveTimeout)
	defer cancel()
	err := f.saveCursor(sctx, true)
	f.mu.Lock()
	left, behind := len(f.q), f.overflowed || f.behind
	f.mu.Unlock()
	if left > 0 || behind {
		f.svc.log.WarnContext(sctx, "booking: check-ins left to the next follower at stop", "follower", f.opts.ID, "taps", left, "behind", behind)
	}
	if err != nil {
		return fmt.Errorf("booking: check-in cursor at stop: %w", err)
	}
	return nil
}

// drainChunk bounds the taps of one check-in step (of Drain and of a
// catch-up from the store): each reads the bookings of the taps' members
// over their span and the check-ins of the bookings they attend.
const drainChunk = 1000

// Drain checks bookings in from every queued tap, then, when the queue
// had overflowed, from the taps stored since it did, and returns. Taps
// whose check-in fails for a reason that may pass (the database) stay at
// the head of the queue and Drain returns: the next Drain retries them.
// Drain returns too when ctx ends. It must not run beside Run (which calls
// it).
func (f *Follower) Drain(ctx context.Context) {
	for ctx.Err() == nil {
		f.mu.Lock()
		n := min(len(f.q), drainChunk)
		if n == 0 {
			if f.overflowed {
				// Queue again; what was left out is read from the store.
				if !f.behind || f.overflowMs < f.behindMs {
					f.behindMs = f.overflowMs
				}
				f.behind, f.overflowed = true, false
			}
			behind, from := f.behind, f.behindMs
			f.mu.Unlock()
			if !behind {
				return
			}
			if _, err := f.applyStored(ctx, from-f.opts.CursorMargin.Milliseconds()); err != nil {
				f.failed(ctx, "booking: check-in catch-up from the store failed (retried)", err)
				return
			}
			f.mu.Lock()
			f.behind = false
			f.mu.Unlock()
			continue // what was queued meanwhile
		}
		chunk := f.q[:n]
		f.mu.Unlock()
		if err := f.apply(ctx, chunk); err != nil {
			f.failed(ctx, "booking: check-in from door events failed (retried)", err)
			return
		}
		f.mu.Lock()
		clear(f.q[:n]) // let the taps' strings go
		f.q = f.q[n:]
		f.mu.Unlock()
	}
}

// failed counts and logs a failed step, unless ctx ended (a stop, not a
// failure: the cursor covers what is left).
func (f *Follower) failed(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	f.svc.checkInFailed.Inc()
	f.svc.log.WarnContext(ctx, msg, "follower", f.opts.ID, "err", err)
}

// apply checks bookings in from taps. Taps at a door that can never
// succeed (deleted since) are logged, counted and skipped; other errors
// are returned.
func (f *Follower) apply(ctx context.Context, taps []tap) error {
	_, err := f.svc.checkIn(ctx, taps, func(door string, err error) {
		f.svc.checkInFailed.Inc()
		f.svc.log.WarnContext(ctx, "booking: check-in from door events skipped", "door", door, "err", err)
	})
	return err
}

// applyStored checks bookings in from the granted taps stored since fromMs
// (received then or later), in chunks, and returns how many taps it read.
func (f *Follower) applyStored(ctx context.Context, fromMs int64) (int, error) {
	taps, err := f.storedTaps(ctx, fromMs)
	if err != nil {
		return 0, err
	}
	for i := 0; i < len(taps); i += drainChunk {
		if err := f.apply(ctx, taps[i:min(i+drainChunk, len(taps))]); err != nil {
			return len(taps), err
		}
	}
	return len(taps), nil
}

// storedTaps reads the granted taps stored since fromMs and keeps only
// what a check-in needs of them.
func (f *Follower) storedTaps(ctx context.Context, fromMs int64) ([]tap, error) {
	evs, err := f.svc.st.CheckIns().GrantedTaps(ctx, fromMs)
	if err != nil {
		return nil, err
	}
	taps := make([]tap, 0, len(evs))
	for _, ev := range evs {
		if t, ok := tapOf(ev.Door, ev.Event); ok {
			t.receivedMs = ev.ReceivedMs
			taps = append(taps, t)
		}
	}
	return taps, nil
}

// saveCursor saves the follower's cursor, less the margin (StopMargin when
// stopped): before the oldest queued tap and the first commit left out
// since an overflow (or the taps still to read from the store), or before
// now when there are none.
func (f *Follower) saveCursor(ctx context.Context, stopped bool) error {
	now := f.svc.now()
	pos := now.UnixMilli()
	f.mu.Lock()
	if len(f.q) > 0 {
		pos = min(pos, f.q[0].receivedMs)
	}
	if f.overflowed {
		pos = min(pos, f.overflowMs)
	}
	if f.behind {
		pos = min(pos, f.behindMs)
	}
	f.mu.Unlock()
	margin := f.opts.CursorMargin
	if stopped {
		margin = f.opts.StopMargin
	}
	return f.svc.st.CheckIns().SaveCheckInCursor(ctx, store.CheckInCursor{Follower: f.opts.ID,
		AppliedMs: pos - margin.Milliseconds(), SeenMs: now.UnixMilli(), Stopped: stopped})
}

// takeOver checks in from the granted taps stored since the oldest cursor
// of the followers that stopped or died, then drops their cursors. A
// failure is logged; the next call tries again.
func (f *Follower) takeOver(ctx context.Context) {
	if err := f.takeOverOnce(ctx); err != nil {
		f.failed(ctx, "booking: taking check-in cursors over failed (retried)", err)
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
	read, err := f.applyStored(ctx, from)
	if err != nil {
		return err
	}
	for _, c := range gone {
		dropped, err := f.svc.st.CheckIns().DropCheckInCursor(ctx, c)
		if err != nil {
			return err
		}
		if dropped {
			f.svc.log.InfoContext(ctx, "booking: took a check-in cursor over", "follower", f.opts.ID, "from", c.Follower,
				"stopped", c.Stopped, "since", stamp(time.UnixMilli(c.AppliedMs)), "taps", read)
		}
	}
	return nil
}
