package posting_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/credit/credittest"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// openSQLite opens a store in a temporary folder (synchronous NORMAL: the
// tests write thousands of small commits).
func openSQLite(t testing.TB, notify store.Notifier) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"),
		sqlite.Options{Options: store.Options{Notify: notify}, Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// loadDomain stores the network's reference data.
func loadDomain(t testing.TB, st store.Store, n *credittest.Network) {
	t.Helper()
	ctx := context.Background()
	for _, c := range n.Centers {
		require.NoError(t, st.CreateCenter(ctx, c))
	}
	for _, r := range n.Rooms {
		require.NoError(t, st.CreateRoom(ctx, r))
	}
	for _, d := range n.Doors {
		require.NoError(t, st.CreateDoor(ctx, d))
	}
	for _, m := range n.Members {
		require.NoError(t, st.CreateMember(ctx, m))
	}
	for _, p := range n.Passes {
		require.NoError(t, st.CreatePass(ctx, p))
	}
	if len(n.Bookings) > 0 {
		k, err := st.ImportBookings(ctx, n.Bookings)
		require.NoError(t, err)
		require.Equal(t, len(n.Bookings), k)
	}
}

// commit stores events as the ingest does (one AppendBatches per receipt
// time, in order) and hands each commit to hook, as serve wires it.
func commit(t testing.TB, st store.Store, events []domain.Event, hook func(int64, []ingest.Batch)) {
	t.Helper()
	ctx := context.Background()
	byReceipt := map[int64][]store.DoorEvents{}
	var times []int64
	for _, ev := range events {
		bs, ok := byReceipt[ev.ReceivedMs]
		if !ok {
			times = append(times, ev.ReceivedMs)
		}
		if len(bs) == 0 || bs[len(bs)-1].Door != ev.Door {
			bs = append(bs, store.DoorEvents{Door: ev.Door})
		}
		bs[len(bs)-1].Events = append(bs[len(bs)-1].Events, ev.Event)
		byReceipt[ev.ReceivedMs] = bs
	}
	slices.Sort(times)
	for _, r := range times {
		_, err := st.AppendBatches(ctx, r, byReceipt[r])
		require.NoError(t, err)
		if hook != nil {
			in := make([]ingest.Batch, len(byReceipt[r]))
			for i, b := range byReceipt[r] {
				in[i] = ingest.Batch{Door: b.Door, Events: b.Events}
			}
			hook(r, in)
		}
	}
}

// coarse rounds receipt times up to the next ten minutes, so that a
// month of events commits in a few thousand transactions, and numbers each
// door's events in the order it sends them (receipt, then tap time), as a
// door does: the generator numbers them as it draws them.
func coarse(events []domain.Event) []domain.Event {
	const step = int64(10 * time.Minute / time.Millisecond)
	out := slices.Clone(events)
	for i := range out {
		out[i].ReceivedMs = (out[i].ReceivedMs + step - 1) / step * step
	}
	slices.SortStableFunc(out, func(a, b domain.Event) int {
		return cmp.Or(cmp.Compare(a.ReceivedMs, b.ReceivedMs), cmp.Compare(a.TimeMs, b.TimeMs))
	})
	seq := map[string]uint64{}
	for i := range out {
		seq[out[i].Door]++
		out[i].Seq = seq[out[i].Door]
	}
	return out
}

type service struct {
	*posting.Service
	reg *metrics.Registry
	log *bytes.Buffer
}

// start runs a crediting over st until the test ends.
func start(t *testing.T, st store.Store, feed *store.Feed, now time.Time) *service {
	t.Helper()
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	s := &service{reg: metrics.NewRegistry(), log: &bytes.Buffer{}}
	s.Service, err = posting.New(posting.Config{Rules: rules, Store: st, Metrics: s.reg,
		Logger: slog.New(slog.NewTextHandler(s.log, nil)), Now: func() time.Time { return now },
		Every: time.Millisecond, Debounce: time.Millisecond})
	require.NoError(t, err)
	if feed != nil {
		feed.Subscribe(s.Changed)
	}
	run(t, s.Service)
	return s
}

// run runs s until the test ends.
func run(t *testing.T, s *posting.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

func flush(t *testing.T, s *service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, s.Flush(ctx))
}

func smallNetwork(t testing.TB) *credittest.Network {
	t.Helper()
	n, err := credittest.NewNetwork(credittest.NetworkSize{Centers: 4, Members: 150, Events: 4000, Rooms: 4, Workspaces: 24})
	require.NoError(t, err)
	n.Events = coarse(n.Events)
	return n
}

func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", " ")
	require.NoError(t, err)
	return string(b)
}

// fromScratch is the period's settlement computed from the stored events.
func fromScratch(t *testing.T, st store.Store, p credit.Period) *credit.Settlement {
	t.Helper()
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	r, err := posting.FromScratch(context.Background(), st, rules, p)
	require.NoError(t, err)
	return r.Settlement(p)
}

// TestLedgerFollowsCommitsAndChanges feeds a month of a small network
// through the ingest's hook, then changes bookings, passes, members, doors
// and centers: after each step the ledger's settlement is what a
// computation from scratch over the stored events gives.
func TestLedgerFollowsCommitsAndChanges(t *testing.T) {
	ctx := context.Background()
	n := smallNetwork(t)
	feed := &store.Feed{}
	st := openSQLite(t, feed.Notify)
	loadDomain(t, st, n)
	now := n.Period.End(n.Config.Location).Add(5 * 24 * time.Hour)
	s := start(t, st, feed, now)

	commit(t, st, n.Events, s.Committed)
	flush(t, s)
	got, err := s.Settlement(ctx, n.Period)
	require.NoError(t, err)
	require.Greater(t, got.TotalCents, int64(0))
	require.Greater(t, got.Counts[credit.CountEntries], int64(0))
	require.Equal(t, canon(t, fromScratch(t, st, n.Period)), canon(t, got), "commits")

	nomad := n.Members[0] // mem-0000: nomadic, with a pass
	require.Empty(t, nomad.HomeCenterID)
	// An entry in the last week of November of a member without a pass,
	// away from home:
	// a booking around it is attended, moved a week later it is not (and
	// lies in December).
	withPass, home := map[string]bool{}, map[string]string{}
	for _, p := range n.Passes {
		withPass[p.MemberID] = true
	}
	for _, m := range n.Members {
		home[m.ID] = m.HomeCenterID
	}
	centerOf := map[string]string{}
	for _, d := range n.Doors {
		if !d.Exit && d.RoomID == "" {
			centerOf[d.ID] = d.CenterID
		}
	}
	var entry domain.Event
	for _, e := range n.Events {
		if c := centerOf[e.Door]; c != "" && c != home[e.Member] && !withPass[e.Member] && e.Reason == protocol.GrantedPass && e.Trusted &&
			time.UnixMilli(e.TimeMs).After(n.Period.End(n.Config.Location).Add(-6*24*time.Hour)) {
			entry = e
			break
		}
	}
	require.NotEmpty(t, entry.Member, "the network has such an entry")
	bk := domain.Booking{ID: "late-bk", MemberID: entry.Member, CenterID: centerOf[entry.Door],
		Start: time.UnixMilli(entry.TimeMs).Add(-30 * time.Minute), Status: domain.BookingConfirmed}
	bk.End = bk.Start.Add(3 * time.Hour)
	week := 7 * 24 * time.Hour
	steps := []struct {
		name   string
		change func() error
	}{
		{"booking created", func() error { return st.CreateBooking(ctx, bk) }},
		{"booking moved to the next month", func() error {
			b := bk
			b.Start, b.End = b.Start.Add(week), b.End.Add(week)
			return st.UpdateBooking(ctx, b)
		}},
		{"booking moved back", func() error { return st.UpdateBooking(ctx, bk) }},
		{"booking cancelled", func() error {
			b := bk
			b.Status = domain.BookingCancelled
			return st.UpdateBooking(ctx, b)
		}},
		{"pass withdrawn", func() error { return st.DeletePass(ctx, "pass-"+nomad.ID) }},
		{"member moves home", func() error {
			m := n.Members[2]
			m.HomeCenterID = n.Centers[3].ID
			return st.UpdateMember(ctx, m)
		}},
		{"door becomes an exit reader", func() error {
			d := n.Doors[0]
			d.Exit = true
			return st.UpdateDoor(ctx, d)
		}},
		{"center rate and hours", func() error {
			c := n.Centers[2]
			c.RateCents = 1750
			c.Hours[time.Sunday] = []domain.Span{{Open: 9 * 60, Close: 17 * 60}}
			return st.UpdateCenter(ctx, c)
		}},
	}
	prev := canon(t, got)
	for _, step := range steps {
		require.NoError(t, step.change(), step.name)
		flush(t, s)
		got, err := s.Settlement(ctx, n.Period)
		require.NoError(t, err)
		now := canon(t, got)
		assert.NotEqual(t, prev, now, "%s changes the settlement", step.name)
		require.Equal(t, canon(t, fromScratch(t, st, n.Period)), now, step.name)
		prev = now
	}
	var text bytes.Buffer
	require.NoError(t, s.reg.WriteText(&text))
	assert.Contains(t, text.String(), "swc_credit_events_total 4000")
	// Two changes (door, center) rebuild each open period: November and December.
	assert.Contains(t, text.String(), "swc_credit_rebuilds_total 4")
	assert.Contains(t, text.String(), "swc_credit_pending_events 0")
	assert.NotContains(t, s.log.String(), "level=ERROR")
}

// tap is a granted tap at door of member at t, received a second later.
func tap(door string, seq uint64, member string, at time.Time) domain.Event {
	return domain.Event{Door: door, ReceivedMs: at.Add(time.Second).UnixMilli(), Event: protocol.Event{Seq: seq,
		TimeMs: at.UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventTap, UID: "04A1B2C3", Member: member,
		Reason: protocol.GrantedPass, WLVersion: 1}}
}

// scenario is one center (open every day 8:00–18:00, entrance and exit
// readers) and a nomadic member with a pass for October to December 2026.
func scenario(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	var hours domain.OpeningHours
	for d := range hours {
		hours[d] = []domain.Span{{Open: 8 * 60, Close: 18 * 60}}
	}
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "gent", Name: "Gent", TimeZone: "Europe/Brussels", Hours: hours, RateCents: 1200}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "gent-in", CenterID: "gent", Name: "in"}))
	require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "gent-out", CenterID: "gent", Name: "out", Exit: true}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "ann", Name: "Ann", Status: domain.MemberActive}))
	require.NoError(t, st.CreatePass(ctx, domain.Pass{ID: "p1", MemberID: "ann", ValidFrom: at(t, "2026-10-01 00:00"), ValidUntil: at(t, "2027-01-01 00:00")}))
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return v
}

func period(t *testing.T, s string) credit.Period {
	t.Helper()
	p, err := credit.ParsePeriod(s)
	require.NoError(t, err)
	return p
}

// TestCloseThenLateEvent closes November, then an event of November
// arrives: November's settlement stays frozen and December books the
// difference as an adjustment line at November's rate.
func TestCloseThenLateEvent(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	s := start(t, st, nil, at(t, "2026-12-05 10:00"))
	commit(t, st, []domain.Event{
		tap("gent-in", 1, "ann", at(t, "2026-11-10 09:00")),
		tap("gent-out", 1, "ann", at(t, "2026-11-10 11:00")), // 2 h
	}, s.Committed)

	nov, dec := period(t, "2026-11"), period(t, "2026-12")
	_, err := s.Close(ctx, dec)
	require.ErrorIs(t, err, credit.ErrPeriodNotOver)
	frozen, err := s.Close(ctx, nov)
	require.NoError(t, err, "closing credits what was committed first")
	require.True(t, frozen.Closed)
	line, ok := frozen.Center("gent")
	require.True(t, ok)
	assert.Equal(t, int64(120), line.NomadicMinutes)
	assert.Equal(t, int64(2400), line.TotalCents)
	_, err = s.Close(ctx, nov)
	require.ErrorIs(t, err, credit.ErrAlreadyClosed)

	// The door was offline: a visit of 12 November arrives on 5 December.
	late := []domain.Event{tap("gent-in", 2, "ann", at(t, "2026-11-12 14:00")), tap("gent-out", 2, "ann", at(t, "2026-11-12 15:30"))}
	for i := range late {
		late[i].ReceivedMs = at(t, "2026-12-05 09:58").UnixMilli()
	}
	commit(t, st, late, s.Committed)
	flush(t, s)

	again, err := s.Settlement(ctx, nov)
	require.NoError(t, err)
	require.Equal(t, canon(t, frozen), canon(t, again), "a closed period never changes")
	open, err := s.Settlement(ctx, dec)
	require.NoError(t, err)
	require.Len(t, open.Adjustments, 1)
	adj := open.Adjustments[0]
	assert.Equal(t, credit.AdjustmentLine{CenterID: "gent", BelongsTo: nov, Class: credit.ClassNomadic, Minutes: 90,
		RateCents: 1200, AmountCents: 1800}, adj)
	line, _ = open.Center("gent")
	assert.Equal(t, int64(0), line.NomadicMinutes)
	assert.Equal(t, int64(1800), line.TotalCents)

	stmt, err := s.Statement(ctx, "ann", dec)
	require.NoError(t, err)
	assert.Equal(t, int64(90), stmt.AdjustmentMinutes)
	_, err = s.Statement(ctx, "nobody", dec)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestRecoversAfterCrash: events committed by a process that died before
// crediting them (its session never ended) are credited by the next start.
func TestRecoversAfterCrash(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	// A first crediting session credits one visit and stops cleanly.
	func() {
		s := start(t, st, nil, at(t, "2026-11-20 10:00"))
		commit(t, st, []domain.Event{tap("gent-in", 1, "ann", at(t, "2026-11-10 09:00")), tap("gent-out", 1, "ann", at(t, "2026-11-10 10:00"))}, s.Committed)
		flush(t, s)
	}()
	// The next process starts a session, commits a visit and dies before
	// its crediting saw it.
	_, err := st.Credit().StartTracking(ctx)
	require.NoError(t, err)
	commit(t, st, []domain.Event{tap("gent-in", 2, "ann", at(t, "2026-11-11 09:00")), tap("gent-out", 2, "ann", at(t, "2026-11-11 10:00"))}, nil)

	s := start(t, st, nil, at(t, "2026-11-20 10:00"))
	flush(t, s)
	got, err := s.Settlement(ctx, period(t, "2026-11"))
	require.NoError(t, err)
	line, _ := got.Center("gent")
	assert.Equal(t, int64(120), line.NomadicMinutes, "both visits")
	assert.Contains(t, s.log.String(), "unclean stop")
}

// TestStopIsBounded: a stop credits what is queued for StopWithin at most
// (here less than any step takes); what it left, the next start credits.
func TestStopIsBounded(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	var logs bytes.Buffer
	// The visit's commit waits for a quiet ingest (an hour): it is still
	// queued when the crediting stops.
	first, credited, stop := runScenario(t, st, posting.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Every: time.Hour, Quiet: time.Hour, MaxDefer: time.Hour, StopWithin: time.Nanosecond})
	commit(t, st, []domain.Event{tap("gent-in", 1, "ann", at(t, "2026-11-10 09:00")), tap("gent-out", 1, "ann", at(t, "2026-11-10 10:00"))}, first.Committed)
	stop()
	assert.Zero(t, credited(), "the stop did not wait to credit the visit")
	assert.Contains(t, logs.String(), "stopping with events not credited after the stop's bound")

	s := start(t, st, nil, at(t, "2026-11-20 10:00"))
	flush(t, s)
	got, err := s.Settlement(ctx, period(t, "2026-11"))
	require.NoError(t, err)
	line, _ := got.Center("gent")
	assert.Equal(t, int64(60), line.NomadicMinutes, "the next start credited the visit")
	assert.Equal(t, canon(t, fromScratch(t, st, period(t, "2026-11"))), canon(t, got))
}

// TestCommittedNeverWaits: the hook only queues; events committed before
// the worker runs are credited once it does.
func TestCommittedNeverWaits(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	s, err := posting.New(posting.Config{Rules: rules, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return at(t, "2026-11-20 10:00") }})
	require.NoError(t, err)
	_, err = s.Settlement(ctx, period(t, "2026-11"))
	require.ErrorIs(t, err, posting.ErrNotRunning)
	var evs []domain.Event
	for i := range 200 {
		day := at(t, "2026-11-02 09:00").AddDate(0, 0, i/10)
		evs = append(evs, tap("gent-in", uint64(i+1), "ann", day.Add(time.Duration(i%10)*time.Minute)))
	}
	commit(t, st, evs, s.Committed) // no worker yet: each call returns at once

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	require.NoError(t, s.Flush(ctx))
	got, err := s.Settlement(ctx, period(t, "2026-11"))
	require.NoError(t, err)
	assert.Equal(t, int64(200), got.Counts[credit.CountEntries])
}

// flaky is a real store whose crediting storage fails to track the first
// times it is asked, as a full disk or a lost connection would.
type flaky struct {
	store.Store
	fails *int
}

func (f flaky) Credit() store.CreditStore { return flakyCredit{f.Store.Credit(), f.fails} }

type flakyCredit struct {
	store.CreditStore
	fails *int
}

func (f flakyCredit) Track(ctx context.Context, batches []store.DoorEvents) error {
	if *f.fails > 0 {
		*f.fails--
		return errors.New("disk I/O error")
	}
	return f.CreditStore.Track(ctx, batches)
}

// TestFailedStepIsRetried: a step that fails is logged, counted and
// retried; its events stay queued and are credited once it works.
func TestFailedStepIsRetried(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	fails := 2
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	reg, logs := metrics.NewRegistry(), &bytes.Buffer{}
	s, err := posting.New(posting.Config{Rules: rules, Store: flaky{st, &fails}, Metrics: reg,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: func() time.Time { return at(t, "2026-11-20 10:00") },
		Every: time.Millisecond, RetryAfter: 10 * time.Millisecond})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	commit(t, st, []domain.Event{tap("gent-in", 1, "ann", at(t, "2026-11-10 09:00")), tap("gent-out", 1, "ann", at(t, "2026-11-10 10:00"))}, s.Committed)
	require.Error(t, s.Flush(ctx), "the first attempt fails")
	require.Eventually(t, func() bool {
		got, err := s.Settlement(ctx, period(t, "2026-11"))
		require.NoError(t, err)
		line, _ := got.Center("gent")
		return line.NomadicMinutes == 60
	}, 10*time.Second, 10*time.Millisecond, "credited once tracking works again")
	assert.Equal(t, 0, fails)
	var text bytes.Buffer
	require.NoError(t, reg.WriteText(&text))
	assert.Contains(t, text.String(), `swc_credit_errors_total{step="track"} 2`)
	assert.Contains(t, logs.String(), "step failed")
	assert.Contains(t, logs.String(), "disk I/O error")
}

// TestReadsSeeEveryCommit: a read credits what is queued first, however
// long the worker would otherwise gather commits (an hour here).
func TestReadsSeeEveryCommit(t *testing.T) {
	ctx := context.Background()
	feed := &store.Feed{}
	st := openSQLite(t, feed.Notify)
	scenario(t, st)
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	s, err := posting.New(posting.Config{Rules: rules, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return at(t, "2026-11-20 10:00") }, Every: time.Hour, Debounce: time.Hour})
	require.NoError(t, err)
	feed.Subscribe(s.Changed)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()
	require.NoError(t, s.Flush(ctx)) // started

	nov := period(t, "2026-11")
	minutes := func() int64 {
		t.Helper()
		got, err := s.Settlement(ctx, nov)
		require.NoError(t, err)
		line, _ := got.Center("gent")
		return line.NomadicMinutes
	}
	for day := 2; day <= 4; day++ {
		in := at(t, fmt.Sprintf("2026-11-%02d 09:00", day))
		commit(t, st, []domain.Event{tap("gent-in", uint64(day), "ann", in), tap("gent-out", uint64(day), "ann", in.Add(time.Hour))}, s.Committed)
		assert.Equal(t, int64(60*(day-1)), minutes(), "every acknowledged visit, day %d", day)
	}
	// A change is followed before the read too: without the pass, Ann's
	// walk-ins credit nothing.
	require.NoError(t, st.DeletePass(ctx, "p1"))
	assert.Equal(t, int64(0), minutes())
	stmt, err := s.Statement(ctx, "ann", nov)
	require.NoError(t, err)
	assert.Equal(t, int64(0), stmt.CreditedMinutes)
}

// TestBurstDefersCrediting: while commits keep arriving less than Quiet
// apart the crediting leaves the machine to the ingest, at most MaxDefer
// after the oldest waiting commit, then credits everything.
func TestBurstDefersCrediting(t *testing.T) {
	st, s, credited := pacedService(t, time.Millisecond, 400*time.Millisecond, 1500*time.Millisecond)

	// A burst: a commit every 50 ms for about a second.
	seq := uint64(0)
	in := at(t, "2026-11-02 09:00")
	burst := func(n int) {
		for i := 0; i < n; i++ {
			seq++
			commit(t, st, []domain.Event{tap("gent-in", seq, "ann", in.Add(time.Duration(seq)*time.Minute))}, s.Committed)
			time.Sleep(50 * time.Millisecond)
		}
	}
	burst(20)
	assert.Zero(t, credited(), "nothing is credited during a burst shorter than MaxDefer")
	require.Eventually(t, func() bool { return credited() == seq }, 10*time.Second, 20*time.Millisecond, "after the burst everything is credited")

	// A burst longer than MaxDefer: crediting runs during it.
	before := credited()
	burst(50)
	assert.Greater(t, credited(), before, "MaxDefer bounds how long the crediting waits")
	require.Eventually(t, func() bool { return credited() == seq }, 10*time.Second, 20*time.Millisecond)
}

// TestQuietIngestIsCreditedAtOnce: the rest between two ledger updates
// (Every, or twice the last update's time) spaces updates while commits keep
// coming; once the ingest is quiet, what is queued is credited without
// waiting for it. After a reconnect storm the rest kept its last events
// uncredited for seconds.
func TestQuietIngestIsCreditedAtOnce(t *testing.T) {
	st, s, credited := pacedService(t, time.Hour, 100*time.Millisecond, time.Second)

	in := at(t, "2026-11-02 09:00")
	for seq := uint64(1); seq <= 3; seq++ {
		// Each commit comes after the last update (whose rest is an hour)
		// and is followed by quiet: it is credited without the rest.
		commit(t, st, []domain.Event{tap("gent-in", seq, "ann", in.Add(time.Duration(seq)*time.Minute))}, s.Committed)
		require.Eventually(t, func() bool { return credited() == seq }, 10*time.Second, 20*time.Millisecond, "commit %d credited once the ingest is quiet", seq)
	}
}

// pacedService runs the crediting over the scenario's network with the
// given pacing (Every, Quiet, MaxDefer) until the test ends, and returns its
// store, the service and how many events it credited so far.
func pacedService(t *testing.T, every, quiet, maxDefer time.Duration) (store.Store, *posting.Service, func() uint64) {
	t.Helper()
	feed := &store.Feed{}
	st := openSQLite(t, feed.Notify)
	scenario(t, st)
	s, credited, _ := runScenario(t, st, posting.Config{Every: every, Debounce: time.Millisecond, Quiet: quiet, MaxDefer: maxDefer})
	return st, s, credited
}

// runScenario runs a crediting over st (the scenario's network) with cfg,
// completed with the rules, the store, a registry, a discarding logger
// when none is given and the scenario's clock, once started. It returns
// the service, how many events it credited so far, and stop, which ends
// Run (also done at the test's end).
func runScenario(t *testing.T, st store.Store, cfg posting.Config) (*posting.Service, func() uint64, func()) {
	t.Helper()
	ctx := context.Background()
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	reg := metrics.NewRegistry()
	cfg.Rules, cfg.Store, cfg.Metrics = rules, st, reg
	cfg.Now = func() time.Time { return at(t, "2026-11-20 10:00") }
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := posting.New(cfg)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); require.NoError(t, <-done) }) }
	t.Cleanup(stop)
	require.NoError(t, s.Flush(ctx)) // started
	credited := func() uint64 {
		var sb strings.Builder
		require.NoError(t, reg.WriteText(&sb))
		for _, line := range strings.Split(sb.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "swc_credit_events_total "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				return n
			}
		}
		return 0
	}
	return s, credited, stop
}
