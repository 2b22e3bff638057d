package posting_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestOwnStaffBookingsInSettlement is issue 14's item 8 through the
// service and a real store: gent's manager books bob (nomadic, no pass) at
// gent for 15 days and bob taps once; the cooperative books bob for one
// hour, attended. The settlement credits the tap's day within opening
// hours (10 h) and the hour, and shows the 10 h as booked by gent's own
// staff; the ledger and a computation from scratch agree.
func TestOwnStaffBookingsInSettlement(t *testing.T) {
	ctx := context.Background()
	feed := &store.Feed{}
	st := openSQLite(t, feed.Notify)
	scenario(t, st)
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "bob", Name: "Bob", Status: domain.MemberActive}))
	s := start(t, st, feed, at(t, "2026-12-05 10:00"))

	require.NoError(t, st.CreateBooking(ctx, domain.Booking{ID: "bk-staff", MemberID: "bob", CenterID: "gent",
		Status: domain.BookingConfirmed, Start: at(t, "2026-11-01 00:00"), End: at(t, "2026-11-16 00:00"),
		CreatedBy: domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: "gent", TokenID: "mgr-gent"}}))
	require.NoError(t, st.CreateBooking(ctx, domain.Booking{ID: "bk-coop", MemberID: "bob", CenterID: "gent",
		Status: domain.BookingConfirmed, Start: at(t, "2026-11-20 10:00"), End: at(t, "2026-11-20 11:00"),
		CreatedBy: domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: "admin"}}))
	tapIn := func(seq uint64, when string) domain.Event {
		ev := tap("gent-in", seq, "bob", at(t, when))
		ev.Reason = protocol.GrantedBooking
		return ev
	}
	commit(t, st, []domain.Event{tapIn(1, "2026-11-10 10:00"), tapIn(2, "2026-11-20 10:05")}, s.Committed)
	flush(t, s)

	nov := period(t, "2026-11")
	got, err := s.Settlement(ctx, nov)
	require.NoError(t, err)
	line, ok := got.Center("gent")
	require.True(t, ok)
	assert.Equal(t, int64(600+60), line.NomadicMinutes, "10 November 08:00–18:00 and the cooperative's hour")
	assert.Equal(t, int64(600), line.OwnStaffBookingMinutes)
	assert.Equal(t, canon(t, fromScratch(t, st, nov)), canon(t, got))
}

// TestStartRebuildsOpenPeriods: results an earlier version stored for an
// open period (here a 15-day booking credited whole from one tap, as the
// engine did before issue 14) are rebuilt at start under this version's
// rules, so the live settlement never shows figures that a recomputation
// from the same events would not give.
func TestStartRebuildsOpenPeriods(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "bob", Name: "Bob", Status: domain.MemberActive}))
	require.NoError(t, st.CreateBooking(ctx, domain.Booking{ID: "bk-staff", MemberID: "bob", CenterID: "gent",
		Status: domain.BookingConfirmed, Start: at(t, "2026-11-01 00:00"), End: at(t, "2026-11-16 00:00"),
		CreatedBy: domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: "gent", TokenID: "mgr-gent"}}))
	ev := tap("gent-in", 1, "bob", at(t, "2026-11-10 10:00"))
	ev.Reason = protocol.GrantedBooking
	// The earlier version credited the event and stopped cleanly.
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	first, err := posting.New(posting.Config{Rules: rules, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return at(t, "2026-11-20 10:00") }, Every: time.Millisecond, Debounce: time.Millisecond, Build: "earlier-version"})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	commit(t, st, []domain.Event{ev}, first.Committed)
	require.NoError(t, first.Flush(ctx))
	cancel()
	require.NoError(t, <-done)

	nov := period(t, "2026-11")
	stale := credit.MemberPeriod{MemberID: "bob", Period: nov, Visits: []credit.Visit{{MemberID: "bob", CenterID: "gent",
		Period: nov, Start: at(t, "2026-11-01 00:00").UTC(), End: at(t, "2026-11-16 00:00").UTC(), Source: credit.SourceBooking,
		Bookings: []string{"bk-staff"}, Class: credit.ClassNomadic, Credited: true, CreditedMinutes: 15 * 24 * 60}}}
	require.NoError(t, st.Credit().Save(ctx, &credit.Commit{Results: []credit.MemberPeriod{stale}}))

	s := start(t, st, nil, at(t, "2026-11-20 10:00"))
	flush(t, s)
	got, err := s.Settlement(ctx, nov)
	require.NoError(t, err)
	line, _ := got.Center("gent")
	assert.Equal(t, int64(600), line.NomadicMinutes)
	assert.Equal(t, canon(t, fromScratch(t, st, nov)), canon(t, got))
}

// TestRestartOfTheSameBuildSkipsTheRebuild (SQLite, one process): the
// rebuild of the open periods at start recomputes the whole open month
// from its events, and delayed every restart's crediting by seconds
// growing with the month. A start of the build that rebuilt them last
// skips it; another build rebuilds them.
func TestRestartOfTheSameBuildSkipsTheRebuild(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t, nil)
	scenario(t, st)
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	runOnce := func(build string) string {
		var log bytes.Buffer
		s, err := posting.New(posting.Config{Rules: rules, Store: st, Logger: slog.New(slog.NewTextHandler(&log, nil)), Build: build,
			Now: func() time.Time { return at(t, "2026-11-20 10:00") }, Every: time.Millisecond, Debounce: time.Millisecond})
		require.NoError(t, err)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx) }()
		require.NoError(t, s.Flush(ctx))
		cancel()
		require.NoError(t, <-done)
		return log.String()
	}
	assert.Contains(t, runOnce("rev:1"), "open periods rebuilt", "the first start of a build rebuilds")
	again := runOnce("rev:1")
	assert.NotContains(t, again, "open periods rebuilt", "a restart of the same build does not")
	assert.Contains(t, again, "already rebuilt by this build")
	assert.Contains(t, runOnce("rev:2"), "open periods rebuilt", "another build rebuilds")
	assert.Contains(t, runOnce(""), "open periods rebuilt", "an unknown build always rebuilds")
}
