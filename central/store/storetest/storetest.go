// Package storetest is the conformance suite of store.Store: the SQLite and
// PostgreSQL backends run the same tests and benchmarks against real
// databases.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Factory returns a new, empty store that is closed when the test ends.
type Factory func(t testing.TB, opts store.Options) store.Store

// recorder collects notified changes.
type recorder struct {
	mu      sync.Mutex
	changes []domain.Change
}

func (r *recorder) notify(_ context.Context, ch domain.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, ch)
	r.mu.Unlock()
}

func (r *recorder) take() []domain.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

// env is one test's store with its recorder.
type env struct {
	t    *testing.T
	open Factory
	s    store.Store
	rec  *recorder
	ctx  context.Context
}

func newEnv(t *testing.T, open Factory) *env {
	rec := &recorder{}
	return &env{t: t, open: open, s: open(t, store.Options{Notify: rec.notify}), rec: rec, ctx: context.Background()}
}

// base is a fixed instant on a whole millisecond (stores keep milliseconds).
func base() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }

func center(id string) domain.Center {
	var h domain.OpeningHours
	for d := time.Monday; d <= time.Friday; d++ {
		h[d] = []domain.Span{{Open: 8 * 60, Close: 18 * 60}}
	}
	return domain.Center{ID: id, Name: "Center " + id, TimeZone: "Europe/Brussels", Hours: h}
}

func booking(id, member, centerID, room string, startH, endH int) domain.Booking {
	return domain.Booking{ID: id, MemberID: member, CenterID: centerID, RoomID: room,
		Start: base().Add(time.Duration(startH) * time.Hour), End: base().Add(time.Duration(endH) * time.Hour), Status: domain.BookingConfirmed}
}

// seed creates centers c1 and c2, room r1 in c1 and r2 in c2, door d1 at the
// entrance of c1, and members m1 (local to c1), m2 (local to c2) and n1
// (nomadic).
func (e *env) seed() {
	e.t.Helper()
	ctx, s := e.ctx, e.s
	for _, c := range []string{"c1", "c2"} {
		require.NoError(e.t, s.CreateCenter(ctx, center(c)))
	}
	require.NoError(e.t, s.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "Room 1"}))
	require.NoError(e.t, s.CreateRoom(ctx, domain.Room{ID: "r2", CenterID: "c2", Name: "Room 2"}))
	require.NoError(e.t, s.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "Front"}))
	require.NoError(e.t, s.CreateMember(ctx, domain.Member{ID: "m1", Name: "Ann", HomeCenterID: "c1", Status: domain.MemberActive}))
	require.NoError(e.t, s.CreateMember(ctx, domain.Member{ID: "m2", Name: "Bob", HomeCenterID: "c2", Status: domain.MemberActive}))
	require.NoError(e.t, s.CreateMember(ctx, domain.Member{ID: "n1", Name: "Nora", Status: domain.MemberActive}))
	e.rec.take()
}

// requireKind checks err matches kind and, when field is not "", names it.
func requireKind(t *testing.T, err, kind error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind, "error %v", err)
	if field == "" {
		return
	}
	var se *store.Error
	var fe *domain.FieldError
	switch {
	case errors.As(err, &se):
		require.Equal(t, field, se.Field, "field of %v", err)
	case errors.As(err, &fe):
		require.Equal(t, field, fe.Field, "field of %v", err)
	default:
		t.Fatalf("error %v names no field; want %s", err, field)
	}
}

// Run runs the conformance suite.
func Run(t *testing.T, open Factory) {
	tests := []struct {
		name string
		fn   func(e *env)
	}{
		{"Centers", testCenters},
		{"Rooms", testRooms},
		{"Doors", testDoors},
		{"DoorSecrets", testDoorSecrets},
		{"Members", testMembers},
		{"Badges", testBadges},
		{"SecureBadges", testSecureBadges},
		{"Bookings", testBookings},
		{"BookingsOfMembers", testBookingsOfMembers},
		{"BookingOverlapConcurrent", testBookingOverlapConcurrent},
		{"ImportBookings", testImportBookings},
		{"ImportBookingsRejected", testImportBookingsRejected},
		{"BookingCreator", testBookingCreator},
		{"Passes", testPasses},
		{"Staff", testStaff},
		{"Pagination", testPagination},
		{"AppendEvents", testAppendEvents},
		{"AppendEventsInvalid", testAppendEventsInvalid},
		{"AppendEventsConcurrent", testAppendEventsConcurrent},
		{"AppendBatches", testAppendBatches},
		{"AppendBatchesConcurrent", testAppendBatchesConcurrent},
		{"AppendBatchesManyDoors", testAppendBatchesManyDoors},
		{"EventConflict", testEventConflict},
		{"EventStores", testEventStores},
		{"EventStoresConcurrent", testEventStoresConcurrent},
		{"EventStreamsLockOrder", testEventStreamsLockOrder},
		{"EventSeqBound", testEventSeqBound},
		{"ListEvents", testListEvents},
		{"EventSearch", testEventSearch},
		{"SettlementApprovals", testSettlementApprovals},
		{"WhitelistStates", testWhitelistStates},
		{"Tokens", testTokens},
		{"Enrollment", testEnrollment},
		{"EnrollmentConcurrent", testEnrollmentConcurrent},
		{"EnrollmentCheck", testEnrollmentCheck},
		{"CenterDeletion", testCenterDeletion},
		{"BadgeAddedBy", testBadgeAddedBy},
		{"Notify", testNotify},
		{"Outbox", testOutbox},
		{"OutboxClaimConcurrent", testOutboxClaimConcurrent},
		{"DoorHealth", testDoorHealth},
		{"Alerts", testAlerts},
		{"AlertsConcurrent", testAlertsConcurrent},
		{"Webhooks", testWebhooks},
		{"CommandRecords", testCommandRecords},
		{"Settings", testSettings},
		{"SettingsConcurrent", testSettingsConcurrent},
		{"AuditVerbsCovered", testAuditVerbsCovered},
		{"AuditEveryWrite", testAuditEveryWrite},
		{"AuditSecrets", testAuditSecrets},
		{"AuditAtomic", testAuditAtomic},
		{"AuditFilters", testAuditFilters},
		{"RoomPlaces", testRoomPlaces},
		{"DeskPools", testDeskPools},
		{"CheckIns", testCheckIns},
		{"Release", testRelease},
		{"BookingRules", testBookingRules},
		{"DeskCapacity", testDeskCapacity},
		{"DeskCapacityConcurrent", testDeskCapacityConcurrent},
		{"ImportDesks", testImportDesks},
		{"OpenBookingsLimit", testOpenBookingsLimit},
		{"Sessions", testSessions},
		{"SessionsInvalid", testSessionsInvalid},
		{"SessionsOfDeletedToken", testSessionsOfDeletedToken},
		{"SessionsConcurrent", testSessionsConcurrent},
		{"SiteFeeds", testSiteFeeds},
		{"SiteRevisions", testSiteRevisions},
		{"MemberByEmail", testMemberByEmail},
		{"SignInCodes", testSignInCodes},
		{"RateHits", testRateHits},
		{"RateHitsConcurrent", testRateHitsConcurrent},
		{"Passkeys", testPasskeys},
		{"Ceremonies", testCeremonies},
		{"StaffAccounts", testStaffAccounts},
		{"StaffAccountTokens", testStaffAccountTokens},
		{"SignInFailures", testSignInFailures},
		{"Import", testImport},
		{"ImportRejected", testImportRejected},
		{"ImportAllOrNothing", testImportAllOrNothing},
		{"ImportAgain", testImportAgain},
		{"ImportDryRun", testImportDryRun},
		{"ImportDoorSecrets", testImportDoorSecrets},
		{"ImportConcurrent", testImportConcurrent},
		{"DoorCerts", testDoorCerts},
		{"DoorCertsConcurrent", testDoorCertsConcurrent},
		{"BillingPrices", testBillingPrices},
		{"BillingDetails", testBillingDetails},
		{"BillingIssue", testBillingIssue},
		{"BillingIssueConcurrent", testBillingIssueConcurrent},
		{"BillingPacks", testBillingPacks},
		{"BillingRoomBookings", testBillingRoomBookings},
		{"CheckInCursors", testCheckInCursors},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(newEnv(t, open)) })
	}
}

func testCenters(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	c := center("c1")
	c.RateCents = 1250
	require.NoError(t, s.CreateCenter(ctx, c))
	got, err := s.Center(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, c, got)

	requireKind(t, s.CreateCenter(ctx, c), store.ErrExists, "id")
	bad := center("c2")
	bad.TimeZone = "Mars/Olympus"
	requireKind(t, s.CreateCenter(ctx, bad), domain.ErrValidation, "time_zone")
	_, err = s.Center(ctx, "c2")
	requireKind(t, err, store.ErrNotFound, "")

	c.Name, c.Hours[time.Saturday] = "Renamed", []domain.Span{{Open: 600, Close: 720}}
	require.NoError(t, s.UpdateCenter(ctx, c))
	got, err = s.Center(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, c, got)
	requireKind(t, s.UpdateCenter(ctx, center("nope")), store.ErrNotFound, "")

	require.NoError(t, s.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "R"}))
	requireKind(t, s.DeleteCenter(ctx, "c1"), store.ErrInUse, "")
	require.NoError(t, s.DeleteRoom(ctx, "r1"))
	require.NoError(t, s.DeleteCenter(ctx, "c1"))
	requireKind(t, s.DeleteCenter(ctx, "c1"), store.ErrNotFound, "")
}

func testRooms(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	requireKind(t, s.CreateRoom(ctx, domain.Room{ID: "r9", CenterID: "nope", Name: "R"}), store.ErrMissingRef, "center_id")
	requireKind(t, s.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "R"}), store.ErrExists, "id")
	requireKind(t, s.UpdateRoom(ctx, domain.Room{ID: "r1", CenterID: "c2", Name: "R"}), domain.ErrValidation, "center_id")
	require.NoError(t, s.UpdateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "Big room"}))
	r, err := s.Room(ctx, "r1")
	require.NoError(t, err)
	require.Equal(t, domain.Room{ID: "r1", CenterID: "c1", Name: "Big room"}, r)

	page, err := s.ListRooms(ctx, store.RoomFilter{CenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Equal(t, []domain.Room{{ID: "r2", CenterID: "c2", Name: "Room 2"}}, page.Items)
	page, err = s.ListRooms(ctx, store.RoomFilter{CenterIDs: []string{}})
	require.NoError(t, err)
	require.Empty(t, page.Items, "an empty center list matches nothing")

	require.NoError(t, s.CreateBooking(ctx, booking("b1", "m1", "c1", "r1", 0, 1)))
	requireKind(t, s.DeleteRoom(ctx, "r1"), store.ErrInUse, "")
}

func testDoors(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	d := domain.Door{ID: "d2", CenterID: "c1", Name: "Room 1", RoomID: "r1", Exit: true}
	require.NoError(t, s.CreateDoor(ctx, d))
	got, err := s.Door(ctx, "d2")
	require.NoError(t, err)
	require.Equal(t, d, got)

	requireKind(t, s.CreateDoor(ctx, domain.Door{ID: "d3", CenterID: "c1", Name: "X", RoomID: "r2"}), store.ErrMissingRef, "room_id")
	requireKind(t, s.CreateDoor(ctx, domain.Door{ID: "d3", CenterID: "zz", Name: "X"}), store.ErrMissingRef, "center_id")
	requireKind(t, s.CreateDoor(ctx, domain.Door{ID: "d/3", CenterID: "c1", Name: "X"}), domain.ErrValidation, "id")
	requireKind(t, s.UpdateDoor(ctx, domain.Door{ID: "d2", CenterID: "c2", Name: "X"}), domain.ErrValidation, "center_id")

	d.RoomID, d.Exit = "", false
	require.NoError(t, s.UpdateDoor(ctx, d))
	got, err = s.Door(ctx, "d2")
	require.NoError(t, err)
	require.Equal(t, d, got)

	page, err := s.ListDoors(ctx, store.DoorFilter{CenterIDs: []string{"c1"}})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	page, err = s.ListDoors(ctx, store.DoorFilter{CenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Empty(t, page.Items)

	require.NoError(t, s.DeleteDoor(ctx, "d2"))
	_, err = s.Door(ctx, "d2")
	requireKind(t, err, store.ErrNotFound, "")
}

func testDoorSecrets(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	requireKind(t, s.VerifyDoorSecret(ctx, "d1", ""), store.ErrBadCredentials, "")
	requireKind(t, s.AuthenticateDoor(ctx, "d1", "anything"), store.ErrBadCredentials, "")

	sec1, err := s.RotateDoorSecret(ctx, "d1")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(sec1), 40)
	require.NoError(t, s.VerifyDoorSecret(ctx, "d1", sec1))
	require.NoError(t, s.AuthenticateDoor(ctx, "d1", sec1))
	requireKind(t, s.AuthenticateDoor(ctx, "d1", sec1+"x"), store.ErrBadCredentials, "")
	requireKind(t, s.AuthenticateDoor(ctx, "d2", sec1), store.ErrBadCredentials, "")
	requireKind(t, s.AuthenticateDoor(ctx, "d1", store.HashSecret(sec1)), store.ErrBadCredentials, "")

	sec2, err := s.RotateDoorSecret(ctx, "d1")
	require.NoError(t, err)
	require.NotEqual(t, sec1, sec2)
	requireKind(t, s.AuthenticateDoor(ctx, "d1", sec1), store.ErrBadCredentials, "")
	require.NoError(t, s.AuthenticateDoor(ctx, "d1", sec2))

	_, err = s.RotateDoorSecret(ctx, "nope")
	requireKind(t, err, store.ErrNotFound, "")
}

func testMembers(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	requireKind(t, s.CreateMember(ctx, domain.Member{ID: "x", Name: "X", HomeCenterID: "zz", Status: domain.MemberActive}), store.ErrMissingRef, "home_center_id")
	requireKind(t, s.CreateMember(ctx, domain.Member{ID: "x", Name: "X", Status: "gone"}), domain.ErrValidation, "status")

	m := domain.Member{ID: "m1", Name: "Ann B", Email: "ann@example.org", HomeCenterID: "c2", Status: domain.MemberSuspended}
	require.NoError(t, s.UpdateMember(ctx, m))
	got, err := s.Member(ctx, "m1")
	require.NoError(t, err)
	require.Equal(t, m, got)

	nomadic, err := s.ListMembers(ctx, store.MemberFilter{Nomadic: true})
	require.NoError(t, err)
	require.Equal(t, []string{"n1"}, memberIDs(nomadic.Items))
	home, err := s.ListMembers(ctx, store.MemberFilter{HomeCenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Equal(t, []string{"m1", "m2"}, memberIDs(home.Items))
	susp, err := s.ListMembers(ctx, store.MemberFilter{Status: domain.MemberSuspended})
	require.NoError(t, err)
	require.Equal(t, []string{"m1"}, memberIDs(susp.Items))

	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "04A1B2C3", MemberID: "m2"}))
	requireKind(t, s.DeleteMember(ctx, "m2"), store.ErrInUse, "")
	require.NoError(t, s.DeleteMember(ctx, "n1"))
	requireKind(t, s.DeleteMember(ctx, "n1"), store.ErrNotFound, "")
}

func memberIDs(ms []domain.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func testBadges(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	b := domain.Badge{UID: "04A1B2C3D4E5F6", MemberID: "m1"}
	require.NoError(t, s.CreateBadge(ctx, b))
	requireKind(t, s.CreateBadge(ctx, domain.Badge{UID: b.UID, MemberID: "m2"}), store.ErrExists, "uid")
	requireKind(t, s.CreateBadge(ctx, domain.Badge{UID: "04a1b2c3", MemberID: "m2"}), domain.ErrValidation, "uid")
	requireKind(t, s.CreateBadge(ctx, domain.Badge{UID: "11223344", MemberID: "zz"}), store.ErrMissingRef, "member_id")
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "11223344", MemberID: "m2"}))
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "55667788", MemberID: "n1", Revoked: true}))

	got, err := s.Badge(ctx, b.UID)
	require.NoError(t, err)
	require.Equal(t, b, got)
	b.Revoked = true
	require.NoError(t, s.UpdateBadge(ctx, b))
	got, err = s.Badge(ctx, b.UID)
	require.NoError(t, err)
	require.True(t, got.Revoked)
	requireKind(t, s.UpdateBadge(ctx, domain.Badge{UID: "99999999", MemberID: "m1"}), store.ErrNotFound, "")

	revoked := true
	page, err := s.ListBadges(ctx, store.BadgeFilter{Revoked: &revoked})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	page, err = s.ListBadges(ctx, store.BadgeFilter{HomeCenterIDs: []string{"c2"}})
	require.NoError(t, err)
	require.Equal(t, []domain.Badge{{UID: "11223344", MemberID: "m2"}}, page.Items)
	page, err = s.ListBadges(ctx, store.BadgeFilter{MemberID: "n1"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)

	require.NoError(t, s.DeleteBadge(ctx, b.UID))
	requireKind(t, s.DeleteBadge(ctx, b.UID), store.ErrNotFound, "")
}

func testBookings(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	b1 := booking("b1", "m1", "c1", "r1", 0, 2)
	require.NoError(t, s.CreateBooking(ctx, b1))
	got, err := s.Booking(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, b1, got)

	tests := []struct {
		name string
		b    domain.Booking
		kind error
		fld  string
	}{
		{"overlaps the start", booking("x", "m2", "c1", "r1", 1, 3), store.ErrOverlap, "start"},
		{"inside", booking("x", "n1", "c1", "r1", 0, 1), store.ErrOverlap, "start"},
		{"around", booking("x", "n1", "c1", "r1", -1, 4), store.ErrOverlap, "start"},
		{"ends before it starts", booking("x", "n1", "c1", "r1", 5, 4), domain.ErrValidation, "end"},
		{"empty", booking("x", "n1", "c1", "r1", 5, 5), domain.ErrValidation, "end"},
		{"room of another center", booking("x", "n1", "c1", "r2", 5, 6), store.ErrMissingRef, "room_id"},
		{"missing member", booking("x", "zz", "c1", "", 5, 6), store.ErrMissingRef, "member_id"},
		{"missing center", booking("x", "m1", "zz", "", 5, 6), store.ErrMissingRef, "center_id"},
		{"same id", booking("b1", "m1", "c1", "", 5, 6), store.ErrExists, "id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireKind(t, s.CreateBooking(ctx, tc.b), tc.kind, tc.fld)
		})
	}
	// Allowed: adjacent, another room, a workspace at the same time, cancelled.
	require.NoError(t, s.CreateBooking(ctx, booking("b2", "m2", "c1", "r1", 2, 3)))
	require.NoError(t, s.CreateBooking(ctx, booking("b3", "m2", "c2", "r2", 0, 2)))
	require.NoError(t, s.CreateBooking(ctx, booking("b4", "n1", "c1", "", 0, 2)))
	c := booking("b5", "n1", "c1", "r1", 1, 2)
	c.Status = domain.BookingCancelled
	require.NoError(t, s.CreateBooking(ctx, c))
	// Confirming the cancelled one now overlaps; moving b1 onto itself does not.
	c.Status = domain.BookingConfirmed
	requireKind(t, s.UpdateBooking(ctx, c), store.ErrOverlap, "start")
	b1.End = b1.End.Add(-30 * time.Minute)
	require.NoError(t, s.UpdateBooking(ctx, b1))
	requireKind(t, s.UpdateBooking(ctx, booking("nope", "m1", "c1", "", 0, 1)), store.ErrNotFound, "")

	page, err := s.ListBookings(ctx, store.BookingFilter{RoomID: "r1"})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)
	page, err = s.ListBookings(ctx, store.BookingFilter{CenterIDs: []string{"c1"}, From: base().Add(2 * time.Hour), To: base().Add(10 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []string{"b2"}, bookingIDs(page.Items))
	page, err = s.ListBookings(ctx, store.BookingFilter{MemberID: "n1", Status: domain.BookingCancelled})
	require.NoError(t, err)
	require.Equal(t, []string{"b5"}, bookingIDs(page.Items))

	require.NoError(t, s.DeleteBooking(ctx, "b5"))
	requireKind(t, s.DeleteBooking(ctx, "b5"), store.ErrNotFound, "")
}

// testBookingsOfMembers checks BookingFilter.MemberIDs: alone and with the
// other conditions, and a list long enough to need several queries (the
// databases bound a statement's parameters), read page by page.
func testBookingsOfMembers(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	cancelled := booking("b4", "n1", "c1", "", 0, 2)
	cancelled.Status = domain.BookingCancelled
	for _, b := range []domain.Booking{
		booking("b1", "m1", "c1", "r1", 0, 2),
		booking("b2", "m2", "c1", "", 0, 2),
		booking("b3", "m2", "c2", "r2", 0, 2),
		cancelled,
		booking("b5", "m1", "c1", "", 5, 6),
	} {
		require.NoError(t, s.CreateBooking(ctx, b))
	}
	for _, tc := range []struct {
		name string
		f    store.BookingFilter
		want []string
	}{
		{"one member", store.BookingFilter{MemberIDs: []string{"m1"}}, []string{"b1", "b5"}},
		{"members over a span", store.BookingFilter{MemberIDs: []string{"m2", "m1"}, From: base(), To: base().Add(3 * time.Hour)}, []string{"b1", "b2", "b3"}},
		{"members at a center", store.BookingFilter{MemberIDs: []string{"m2"}, CenterIDs: []string{"c1"}}, []string{"b2"}},
		{"and a member", store.BookingFilter{MemberIDs: []string{"m1", "n1"}, MemberID: "n1"}, []string{"b4"}},
		{"and a status", store.BookingFilter{MemberIDs: []string{"m1", "n1"}, Status: domain.BookingConfirmed}, []string{"b1", "b5"}},
		{"a member without bookings", store.BookingFilter{MemberIDs: []string{"zz"}}, []string{}},
		{"no member", store.BookingFilter{MemberIDs: []string{}}, []string{}},
		{"any member", store.BookingFilter{From: base().Add(4 * time.Hour)}, []string{"b5"}},
	} {
		page, err := s.ListBookings(ctx, tc.f)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, bookingIDs(page.Items), tc.name)
		require.Empty(t, page.Next, tc.name)
	}

	// 3,000 members (unknown ones around the three, which each land in
	// another thousand, and m1 twice), read two and three bookings a page.
	var many []string
	for i := range 999 {
		many = append(many, fmt.Sprintf("l%04d", i), fmt.Sprintf("m1_%04d", i), fmt.Sprintf("m2_%04d", i))
	}
	many = append(many, "n1", "m2", "m1", "m1")
	for _, limit := range []int{2, 3} {
		var all []string
		after := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "pagination does not end")
			page, err := s.ListBookings(ctx, store.BookingFilter{MemberIDs: many, PageRequest: store.PageRequest{After: after, Limit: limit}})
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Items), limit)
			all = append(all, bookingIDs(page.Items)...)
			if page.Next == "" {
				break
			}
			require.Equal(t, all[len(all)-1], page.Next)
			after = page.Next
		}
		require.Equal(t, []string{"b1", "b2", "b3", "b4", "b5"}, all, "%d a page", limit)
	}
	page, err := s.ListBookings(ctx, store.BookingFilter{MemberIDs: many, CenterIDs: []string{"c1"}, From: base(), To: base().Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []string{"b1", "b2", "b4"}, bookingIDs(page.Items))
}

func bookingIDs(bs []domain.Booking) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

// testBookingOverlapConcurrent books one room slot from many goroutines:
// exactly one wins.
func testBookingOverlapConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.CreateBooking(ctx, booking(fmt.Sprintf("b%d", i), "n1", "c1", "r1", i%2, 3))
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, store.ErrOverlap)
	}
	require.Equal(t, 1, ok)
}

func testImportBookings(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateBooking(ctx, booking("old", "m1", "c1", "r1", 0, 1)))
	e.rec.take()
	in := []domain.Booking{
		booking("i1", "m1", "c1", "r1", 1, 2), // adjacent to the stored one
		booking("i2", "m2", "c1", "r1", 2, 3),
		booking("i3", "n1", "c2", "r2", 1, 2),
		booking("i4", "n1", "c1", "", 1, 5),
	}
	n, err := s.ImportBookings(ctx, in)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	for _, b := range in {
		got, err := s.Booking(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got)
	}
	changes := e.rec.take()
	require.Len(t, changes, 4, "one change per imported booking")
	for i, ch := range changes {
		require.Equal(t, domain.KindBooking, ch.Kind)
		require.Equal(t, in[i].ID, ch.Booking.ID)
	}
}

func testImportBookingsRejected(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateBooking(ctx, booking("old", "m1", "c1", "r1", 0, 2)))
	e.rec.take()
	in := []domain.Booking{
		booking("i1", "m1", "c1", "r2", 5, 6),   // 1: room of another center
		booking("i2", "m1", "c1", "r1", 1, 3),   // 2: overlaps the stored booking
		booking("i3", "m1", "c1", "", 4, 3),     // 3: ends before it starts
		booking("i4", "zz", "c1", "", 3, 4),     // 4: missing member
		booking("ok", "m1", "c1", "r1", 10, 12), // 5: fine
		booking("i6", "m2", "c1", "r1", 11, 13), // 6: overlaps row 5
		booking("old", "m1", "c1", "", 20, 21),  // 7: id taken
		booking("ok2", "n1", "c2", "", 1, 2),    // 8: fine
	}
	_, err := s.ImportBookings(ctx, in)
	var ie *store.ImportError
	require.ErrorAs(t, err, &ie)
	require.ErrorIs(t, err, store.ErrImport)
	type rowErr struct {
		Row   int
		Code  string
		Field string
	}
	var got []rowErr
	for _, r := range ie.Rows {
		require.NotEmpty(t, r.Message)
		got = append(got, rowErr{r.Row, r.Code, r.Field})
	}
	// Rows 3 fails validation first: the other checks run only on valid rows.
	require.Equal(t, []rowErr{{3, "invalid", "end"}}, got)
	require.Equal(t, 1, ie.Total)

	in[2] = booking("i3", "m1", "c1", "", 3, 4)
	_, err = s.ImportBookings(ctx, in)
	require.ErrorAs(t, err, &ie)
	got = nil
	for _, r := range ie.Rows {
		got = append(got, rowErr{r.Row, r.Code, r.Field})
	}
	require.ElementsMatch(t, []rowErr{
		{1, "missing_ref", "room_id"},
		{2, "booking_overlap", "start"},
		{4, "missing_ref", "member_id"},
		{6, "booking_overlap", "start"},
		{7, "exists", "id"},
	}, got)
	require.Equal(t, 5, ie.Total)

	page, err := s.ListBookings(ctx, store.BookingFilter{})
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, bookingIDs(page.Items), "a rejected import stores nothing")
	require.Empty(t, e.rec.take(), "a rejected import notifies nothing")

	dup := []domain.Booking{booking("d", "m1", "c1", "", 1, 2), booking("d", "m1", "c1", "", 3, 4)}
	_, err = s.ImportBookings(ctx, dup)
	require.ErrorAs(t, err, &ie)
	require.Equal(t, []store.RowError{{Row: 2, Code: "duplicate_id", Field: "id", Message: "booking d is also row 1"}}, ie.Rows)
}

func testPasses(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	all := domain.Pass{ID: "p1", MemberID: "n1", ValidFrom: base(), ValidUntil: base().Add(30 * 24 * time.Hour)}
	some := domain.Pass{ID: "p2", MemberID: "m1", ValidFrom: base().Add(time.Hour), ValidUntil: base().Add(2 * time.Hour), CenterIDs: []string{"c1", "c2"}}
	require.NoError(t, s.CreatePass(ctx, all))
	require.NoError(t, s.CreatePass(ctx, some))
	requireKind(t, s.CreatePass(ctx, domain.Pass{ID: "p3", MemberID: "n1", ValidFrom: base(), ValidUntil: base().Add(time.Hour), CenterIDs: []string{"zz"}}), store.ErrMissingRef, "center_ids[0]")
	requireKind(t, s.CreatePass(ctx, domain.Pass{ID: "p3", MemberID: "n1", ValidFrom: base(), ValidUntil: base()}), domain.ErrValidation, "valid_until")
	_, err := s.Pass(ctx, "p3")
	requireKind(t, err, store.ErrNotFound, "")

	got, err := s.Pass(ctx, "p2")
	require.NoError(t, err)
	require.Equal(t, some, got)
	got, err = s.Pass(ctx, "p1")
	require.NoError(t, err)
	require.Equal(t, all, got)

	some.CenterIDs = []string{"c2"}
	require.NoError(t, s.UpdatePass(ctx, some))
	covers1, err := s.ListPasses(ctx, store.PassFilter{CoversCenter: "c1"})
	require.NoError(t, err)
	require.Equal(t, []domain.Pass{all}, covers1.Items)
	covers2, err := s.ListPasses(ctx, store.PassFilter{CoversCenter: "c2", ValidAt: base().Add(90 * time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []domain.Pass{all, some}, covers2.Items)
	later, err := s.ListPasses(ctx, store.PassFilter{ValidAt: base().Add(3 * time.Hour), MemberID: "m1"})
	require.NoError(t, err)
	require.Empty(t, later.Items)

	require.NoError(t, s.DeletePass(ctx, "p2"))
	requireKind(t, s.DeletePass(ctx, "p2"), store.ErrNotFound, "")
	covers2, err = s.ListPasses(ctx, store.PassFilter{CoversCenter: "c2"})
	require.NoError(t, err)
	require.Equal(t, []domain.Pass{all}, covers2.Items, "the deleted pass no longer covers c2")
}

func testStaff(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.AddStaff(ctx, domain.Staff{MemberID: "m1", CenterID: "c1"}))
	require.NoError(t, s.AddStaff(ctx, domain.Staff{MemberID: "m1"}))
	require.NoError(t, s.AddStaff(ctx, domain.Staff{MemberID: "m2", CenterID: "c2"}))
	requireKind(t, s.AddStaff(ctx, domain.Staff{MemberID: "m1", CenterID: "c1"}), store.ErrExists, "")
	requireKind(t, s.AddStaff(ctx, domain.Staff{MemberID: "m1", CenterID: "zz"}), store.ErrMissingRef, "center_id")
	requireKind(t, s.AddStaff(ctx, domain.Staff{MemberID: "zz"}), store.ErrMissingRef, "member_id")

	page, err := s.ListStaff(ctx, store.StaffFilter{MemberID: "m1"})
	require.NoError(t, err)
	require.ElementsMatch(t, []domain.Staff{{MemberID: "m1", CenterID: "c1"}, {MemberID: "m1"}}, page.Items)
	page, err = s.ListStaff(ctx, store.StaffFilter{CenterIDs: []string{"c2", ""}})
	require.NoError(t, err)
	require.ElementsMatch(t, []domain.Staff{{MemberID: "m2", CenterID: "c2"}, {MemberID: "m1"}}, page.Items)

	require.NoError(t, s.RemoveStaff(ctx, domain.Staff{MemberID: "m1"}))
	requireKind(t, s.RemoveStaff(ctx, domain.Staff{MemberID: "m1"}), store.ErrNotFound, "")
	page, err = s.ListStaff(ctx, store.StaffFilter{})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
}

// testPagination walks every list in pages of 2 and checks it sees each
// item once, in order.
func testPagination(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	for i := range 7 {
		require.NoError(t, s.CreateMember(ctx, domain.Member{ID: fmt.Sprintf("p%02d", i), Name: "P", HomeCenterID: "c1", Status: domain.MemberActive}))
		require.NoError(t, s.CreateBooking(ctx, booking(fmt.Sprintf("k%02d", i), "m1", "c1", "", i, i+1)))
		require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: protocol.UID(fmt.Sprintf("0000000%d", i)), MemberID: "m1"}))
		require.NoError(t, s.AddStaff(ctx, domain.Staff{MemberID: fmt.Sprintf("p%02d", i), CenterID: "c1"}))
	}
	walk := func(name string, want int, next func(after string) ([]string, string, error)) {
		t.Helper()
		var all []string
		after := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 10, "%s: pagination does not end", name)
			ids, n, err := next(after)
			require.NoError(t, err, name)
			require.LessOrEqual(t, len(ids), 2, name)
			all = append(all, ids...)
			if n == "" {
				break
			}
			after = n
		}
		require.Len(t, all, want, name)
		require.IsIncreasing(t, all, name)
	}
	walk("members", 10, func(after string) ([]string, string, error) {
		p, err := s.ListMembers(ctx, store.MemberFilter{PageRequest: store.PageRequest{After: after, Limit: 2}})
		return memberIDs(p.Items), p.Next, err
	})
	walk("bookings", 7, func(after string) ([]string, string, error) {
		p, err := s.ListBookings(ctx, store.BookingFilter{PageRequest: store.PageRequest{After: after, Limit: 2}})
		return bookingIDs(p.Items), p.Next, err
	})
	walk("badges", 7, func(after string) ([]string, string, error) {
		p, err := s.ListBadges(ctx, store.BadgeFilter{PageRequest: store.PageRequest{After: after, Limit: 2}})
		var ids []string
		for _, b := range p.Items {
			ids = append(ids, string(b.UID))
		}
		return ids, p.Next, err
	})
	walk("staff", 7, func(after string) ([]string, string, error) {
		p, err := s.ListStaff(ctx, store.StaffFilter{PageRequest: store.PageRequest{After: after, Limit: 2}})
		var ids []string
		for _, x := range p.Items {
			ids = append(ids, x.MemberID)
		}
		return ids, p.Next, err
	})
	walk("centers", 2, func(after string) ([]string, string, error) {
		p, err := s.ListCenters(ctx, store.CenterFilter{PageRequest: store.PageRequest{After: after, Limit: 2}})
		var ids []string
		for _, x := range p.Items {
			ids = append(ids, x.ID)
		}
		return ids, p.Next, err
	})
}

// Events makes n tap events with seqs from..from+n-1, one minute apart.
func Events(from uint64, n int) []protocol.Event {
	evs := make([]protocol.Event, n)
	for i := range evs {
		seq := from + uint64(i)
		evs[i] = protocol.Event{
			Seq: seq, TimeMs: base().Add(time.Duration(seq) * time.Minute).UnixMilli(), Trusted: true, Boot: "boot1",
			UptimeMs: int64(seq) * 60000, Kind: protocol.EventTap, UID: "04A1B2C3", Member: "m1",
			Reason: protocol.GrantedBooking, WLVersion: 7,
		}
	}
	return evs
}

func testAppendEvents(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	const recv = int64(1_772_000_000_000)
	type want struct {
		new          int
		through, max uint64
		gaps         []store.SeqRange
	}
	steps := []struct {
		name string
		evs  []protocol.Event
		want want
	}{
		{"first batch", Events(1, 5), want{5, 5, 5, nil}},
		{"the same again", Events(1, 5), want{0, 5, 5, nil}},
		{"partly new", Events(4, 4), want{2, 7, 7, nil}},
		{"after a gap", Events(10, 2), want{2, 7, 11, []store.SeqRange{{From: 8, To: 9}}}},
		{"further gap", Events(15, 1), want{1, 7, 15, []store.SeqRange{{From: 8, To: 9}, {From: 12, To: 14}}}},
		{"fills the first gap", Events(8, 2), want{2, 11, 15, []store.SeqRange{{From: 12, To: 14}}}},
		{"fills the rest", Events(12, 3), want{3, 15, 15, nil}},
		{"empty batch", nil, want{0, 15, 15, nil}},
	}
	for _, st := range steps {
		res, err := s.AppendEvents(ctx, "d1", recv, st.evs)
		require.NoError(t, err, st.name)
		require.Equal(t, st.want.new, res.New, st.name)
		require.Equal(t, store.SeqState{Through: st.want.through, Max: st.want.max}, res.SeqState, st.name)
		seq, err := s.EventSeq(ctx, "d1")
		require.NoError(t, err)
		require.Equal(t, res.SeqState, seq, st.name)
		gaps, err := s.EventGaps(ctx, "d1", 10)
		require.NoError(t, err)
		require.Equal(t, st.want.gaps, gaps, st.name)
	}
	page, err := s.ListEvents(ctx, store.EventFilter{Door: "d1", PageRequest: store.PageRequest{Limit: 100}})
	require.NoError(t, err)
	require.Len(t, page.Items, 15)
	first := page.Items[0]
	require.Equal(t, domain.Event{Door: "d1", Center: "c1", ReceivedMs: recv, Event: Events(1, 1)[0]}, first)

	// Out of order inside one batch, for a door the central does not know.
	res, err := s.AppendEvents(ctx, "ghost", recv, []protocol.Event{Events(3, 1)[0], Events(1, 1)[0], Events(2, 1)[0]})
	require.NoError(t, err)
	require.Equal(t, store.AppendResult{New: 3, SeqState: store.SeqState{Through: 3, Max: 3}}, res)
	page, err = s.ListEvents(ctx, store.EventFilter{Door: "ghost"})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)
	require.Equal(t, "", page.Items[0].Center)

	none, err := s.EventSeq(ctx, "never")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{}, none)
}

func testAppendEventsInvalid(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	evs := Events(1, 3)
	evs[1].Reason = "granted_anyway"
	_, err := s.AppendEvents(ctx, "d1", 1, evs)
	requireKind(t, err, domain.ErrValidation, "events[1].reason")
	_, err = s.AppendEvents(ctx, "d/1", 1, Events(1, 1))
	requireKind(t, err, domain.ErrValidation, "door")
	zero := Events(1, 1)
	zero[0].Seq = 0
	_, err = s.AppendEvents(ctx, "d1", 1, zero)
	requireKind(t, err, domain.ErrValidation, "events[0].seq")

	page, err := s.ListEvents(ctx, store.EventFilter{})
	require.NoError(t, err)
	require.Empty(t, page.Items, "an invalid batch stores nothing")
	seq, err := s.EventSeq(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{}, seq)
}

// testAppendEventsConcurrent has several writers deliver overlapping,
// shuffled batches of one door (as redelivery after a reconnect and several
// central replicas do): every event is stored once and the high-water mark
// ends at the last seq.
func testAppendEventsConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	const writers, batches, size = 4, 25, 20
	var wg sync.WaitGroup
	news := make(chan int, writers*batches)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range batches {
				b := (i*7 + w*3) % batches // each writer sends every batch, in its own order
				res, err := s.AppendEvents(ctx, "d1", 1, Events(uint64(b*size+1), size))
				if err != nil {
					t.Error(err)
					return
				}
				news <- res.New
			}
		}()
	}
	wg.Wait()
	close(news)
	total := 0
	for n := range news {
		total += n
	}
	require.Equal(t, batches*size, total, "each event counted new exactly once")
	seq, err := s.EventSeq(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{Through: batches * size, Max: batches * size}, seq)
}

func testAppendBatches(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	res, err := s.AppendBatches(ctx, 5, []store.DoorEvents{
		{Door: "zz", Events: Events(1, 3)},
		{Door: "d1", Events: Events(1, 2)},
		{Door: "zz", Events: Events(3, 3)},
		{Door: "d1", Events: Events(5, 1)},
	})
	require.NoError(t, err)
	require.Equal(t, []store.AppendResult{
		{New: 3, SeqState: store.SeqState{Through: 3, Max: 3}},
		{New: 2, SeqState: store.SeqState{Through: 2, Max: 2}},
		{New: 2, SeqState: store.SeqState{Through: 5, Max: 5}},
		{New: 1, SeqState: store.SeqState{Through: 2, Max: 5}},
	}, res)

	bad := Events(6, 1)
	bad[0].Kind = "exploded"
	_, err = s.AppendBatches(ctx, 6, []store.DoorEvents{{Door: "d1", Events: Events(3, 2)}, {Door: "zz", Events: bad}})
	requireKind(t, err, domain.ErrValidation, "events[0].kind")
	seq, err := s.EventSeq(ctx, "d1")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{Through: 2, Max: 5}, seq, "a failed call stores no batch")
}

// testAppendBatchesManyDoors stores one call of store.MaxBatches batches,
// each of its own stream (every door, some with a second store): the
// ingest's commit group after thousands of doors reconnect. SQLite refused
// one query per OR term of every stream once the doors passed ~1,000.
func testAppendBatchesManyDoors(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	batches := make([]store.DoorEvents, 0, store.MaxBatches)
	for i := 0; len(batches) < store.MaxBatches; i++ {
		door := fmt.Sprintf("many-%04d", i)
		batches = append(batches, store.DoorEvents{Door: door, Events: Events(1, 2)})
		if i%10 == 0 {
			batches = append(batches, store.DoorEvents{Door: door, Store: "sd2", Events: Events(1, 1)})
		}
	}
	res, err := s.AppendBatches(ctx, 7, batches)
	require.NoError(t, err)
	require.Len(t, res, len(batches))
	for i, r := range res {
		n, base := len(batches[i].Events), uint64(0)
		if batches[i].Store != "" {
			base = 1 << 32 // the door's second store takes its next slot
		}
		require.Equal(t, store.AppendResult{New: n, Base: base, SeqState: store.SeqState{Through: uint64(n), Max: uint64(n)}}, r, "batch %d", i)
	}
	res, err = s.AppendBatches(ctx, 8, batches)
	require.NoError(t, err, "the same call again: every event a duplicate")
	for i, r := range res {
		require.Zero(t, r.New, "batch %d stored twice", i)
	}
	seq, err := s.EventSeq(ctx, "many-0999")
	require.NoError(t, err)
	require.Equal(t, store.SeqState{Through: 2, Max: 2}, seq)
}

// testAppendBatchesConcurrent has writers store the same doors' batches in
// different door orders at once: no deadlock, every event stored once.
func testAppendBatchesConcurrent(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	doors := []string{"a", "b", "c", "d"}
	const writers, rounds, size = 4, 10, 10
	var wg sync.WaitGroup
	news := make(chan int, writers*rounds*len(doors))
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				in := make([]store.DoorEvents, len(doors))
				for i := range doors {
					d := doors[(i+w)%len(doors)] // each writer its own door order
					in[i] = store.DoorEvents{Door: d, Events: Events(uint64(r*size+1), size)}
				}
				res, err := s.AppendBatches(ctx, 1, in)
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range res {
					news <- x.New
				}
			}
		}()
	}
	wg.Wait()
	close(news)
	total := 0
	for n := range news {
		total += n
	}
	require.Equal(t, len(doors)*rounds*size, total)
	for _, d := range doors {
		seq, err := s.EventSeq(ctx, d)
		require.NoError(t, err)
		require.Equal(t, store.SeqState{Through: rounds * size, Max: rounds * size}, seq, d)
	}
}

func testListEvents(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	require.NoError(t, s.CreateDoor(ctx, domain.Door{ID: "d2", CenterID: "c2", Name: "Front"}))
	evs := Events(1, 6)
	evs[2].Kind, evs[2].UID, evs[2].Member, evs[2].Reason = protocol.EventDoorForced, "", "", ""
	evs[3].Member = "m2"
	_, err := s.AppendEvents(ctx, "d1", 1, evs)
	require.NoError(t, err)
	_, err = s.AppendEvents(ctx, "d2", 1, Events(1, 4))
	require.NoError(t, err)

	key := func(p store.Page[domain.Event]) []string {
		var out []string
		for _, e := range p.Items {
			out = append(out, fmt.Sprintf("%s/%d", e.Door, e.Seq))
		}
		return out
	}
	tests := []struct {
		name string
		f    store.EventFilter
		want []string
	}{
		{"door", store.EventFilter{Door: "d2"}, []string{"d2/1", "d2/2", "d2/3", "d2/4"}},
		{"center", store.EventFilter{CenterIDs: []string{"c1"}, Kind: protocol.EventDoorForced}, []string{"d1/3"}},
		{"member", store.EventFilter{MemberID: "m2"}, []string{"d1/4"}},
		{"time", store.EventFilter{From: base().Add(2 * time.Minute), To: base().Add(4 * time.Minute)}, []string{"d1/2", "d2/2", "d1/3", "d2/3"}},
		{"nothing", store.EventFilter{CenterIDs: []string{"zz"}}, nil},
	}
	for _, tc := range tests {
		page, err := s.ListEvents(ctx, tc.f)
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, key(page), tc.name)
	}
	// Pages of 3 over the 10 events, in time order.
	var all []string
	after := ""
	for {
		page, err := s.ListEvents(ctx, store.EventFilter{PageRequest: store.PageRequest{After: after, Limit: 3}})
		require.NoError(t, err)
		all = append(all, key(page)...)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	require.Equal(t, []string{"d1/1", "d2/1", "d1/2", "d2/2", "d1/3", "d2/3", "d1/4", "d2/4", "d1/5", "d1/6"}, all)
	_, err = s.ListEvents(ctx, store.EventFilter{PageRequest: store.PageRequest{After: "garbage"}})
	requireKind(t, err, domain.ErrValidation, "after")
}

func testWhitelistStates(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	states, err := s.WhitelistStates(ctx)
	require.NoError(t, err)
	require.Empty(t, states)
	a := domain.WhitelistState{Door: "d1", Version: 3, Hash: "h3", IssuedMs: 100}
	b := domain.WhitelistState{Door: "d0", Version: 1, Hash: "h1", IssuedMs: 50}
	require.NoError(t, s.SaveWhitelistState(ctx, a))
	require.NoError(t, s.SaveWhitelistState(ctx, b))
	require.NoError(t, s.SaveWhitelistState(ctx, a), "saving the same state again is fine")
	requireKind(t, s.SaveWhitelistState(ctx, domain.WhitelistState{Door: "d1", Version: 2, Hash: "h2"}), store.ErrStale, "version")
	requireKind(t, s.SaveWhitelistState(ctx, domain.WhitelistState{Door: "d1", Version: 3, Hash: "other"}), store.ErrStale, "hash")
	requireKind(t, s.SaveWhitelistState(ctx, domain.WhitelistState{Door: "d1", Version: 0, Hash: "h"}), domain.ErrValidation, "version")
	a = domain.WhitelistState{Door: "d1", Version: 4, Hash: "h4", IssuedMs: 200}
	require.NoError(t, s.SaveWhitelistState(ctx, a))
	states, err = s.WhitelistStates(ctx)
	require.NoError(t, err)
	require.Equal(t, []domain.WhitelistState{b, a}, states)

	// Several doors in one transaction: all, or none.
	c := domain.WhitelistState{Door: "d2", Version: 1, Hash: "c1", IssuedMs: 300}
	a5 := domain.WhitelistState{Door: "d1", Version: 5, Hash: "h5", IssuedMs: 300}
	err = s.SaveWhitelistStates(ctx, []domain.WhitelistState{c, {Door: "d1", Version: 3, Hash: "h3"}})
	requireKind(t, err, store.ErrStale, "version")
	require.Contains(t, err.Error(), "d1", "the error names the door")
	requireKind(t, s.SaveWhitelistStates(ctx, []domain.WhitelistState{c, {Door: "d3", Hash: "x"}}), domain.ErrValidation, "version")
	states, err = s.WhitelistStates(ctx)
	require.NoError(t, err)
	require.Equal(t, []domain.WhitelistState{b, a}, states, "nothing of a refused batch is saved")
	require.NoError(t, s.SaveWhitelistStates(ctx, []domain.WhitelistState{c, a5}))
	require.NoError(t, s.SaveWhitelistStates(ctx, nil))
	states, err = s.WhitelistStates(ctx)
	require.NoError(t, err)
	require.Equal(t, []domain.WhitelistState{b, a5, c}, states)
}

func testTokens(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	n, err := s.CountTokens(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	admin := store.Token{ID: "t1", Name: "first admin", Role: store.RoleAdmin, CreatedMs: 1}
	mgr := store.Token{ID: "t2", Name: "c1 manager", Role: store.RoleManager, Centers: []string{"c1"}, CreatedMs: 2}
	tech := store.Token{ID: "t3", Name: "tech", Role: store.RoleTechnician, Centers: []string{"c1", "c2"}, CreatedMs: 3}
	secrets := map[string]string{}
	for _, tk := range []store.Token{admin, mgr, tech} {
		secrets[tk.ID] = store.NewSecret("swct_")
		require.NoError(t, s.CreateToken(ctx, tk, secrets[tk.ID]))
	}
	requireKind(t, s.CreateToken(ctx, store.Token{ID: "t4", Name: "x", Role: store.RoleManager, Centers: []string{"c1", "c2"}}, store.NewSecret("")), domain.ErrValidation, "centers")
	requireKind(t, s.CreateToken(ctx, store.Token{ID: "t4", Name: "x", Role: store.RoleManager, Centers: []string{"zz"}}, store.NewSecret("")), store.ErrMissingRef, "centers[0]")
	requireKind(t, s.CreateToken(ctx, store.Token{ID: "t1", Name: "x", Role: store.RoleAdmin}, store.NewSecret("")), store.ErrExists, "id")
	requireKind(t, s.CreateToken(ctx, store.Token{ID: "t5", Name: "x", Role: store.RoleAdmin}, "short"), domain.ErrValidation, "secret")

	for _, tk := range []store.Token{admin, mgr, tech} {
		got, err := s.AuthenticateToken(ctx, secrets[tk.ID])
		require.NoError(t, err)
		require.Equal(t, tk, got)
	}
	for _, bad := range []string{"", "swct_nope", store.HashSecret(secrets["t1"])} {
		_, err := s.AuthenticateToken(ctx, bad)
		requireKind(t, err, store.ErrBadCredentials, "")
	}
	page, err := s.ListTokens(ctx, store.TokenFilter{})
	require.NoError(t, err)
	require.Equal(t, []store.Token{admin, mgr, tech}, page.Items)
	n, err = s.CountTokens(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, n)

	require.NoError(t, s.DeleteToken(ctx, "t2"))
	requireKind(t, s.DeleteToken(ctx, "t2"), store.ErrNotFound, "")
	_, err = s.AuthenticateToken(ctx, secrets["t2"])
	requireKind(t, err, store.ErrBadCredentials, "")
}

// testNotify checks each successful write notifies exactly its change after
// the commit (the notifier sees the new state in the store) and a failed
// write notifies nothing.
func testNotify(e *env) {
	t, ctx := e.t, e.ctx
	var s store.Store
	rec := &recorder{}
	var seen []string
	notify := func(ctx context.Context, ch domain.Change) {
		rec.notify(ctx, ch)
		if ch.Kind == domain.KindBooking && !ch.Deleted {
			_, err := s.Booking(ctx, ch.Booking.ID)
			seen = append(seen, fmt.Sprintf("%s visible=%v", ch.Booking.ID, err == nil))
		}
	}
	e.s = nil
	s = openAgain(e, notify)
	require.NoError(t, s.CreateCenter(ctx, center("c1")))
	require.NoError(t, s.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "R"}))
	require.NoError(t, s.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "D"}))
	require.NoError(t, s.CreateMember(ctx, domain.Member{ID: "m1", Name: "M", Status: domain.MemberActive}))
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "04A1B2C3", MemberID: "m1"}))
	require.NoError(t, s.CreateBooking(ctx, booking("b1", "m1", "c1", "r1", 0, 1)))
	require.Error(t, s.CreateBooking(ctx, booking("b2", "m1", "c1", "r1", 0, 1)))
	require.NoError(t, s.CreatePass(ctx, domain.Pass{ID: "p1", MemberID: "m1", ValidFrom: base(), ValidUntil: base().Add(time.Hour)}))
	require.NoError(t, s.AddStaff(ctx, domain.Staff{MemberID: "m1", CenterID: "c1"}))
	_, err := s.RotateDoorSecret(ctx, "d1")
	require.NoError(t, err)
	_, err = s.AppendEvents(ctx, "d1", 1, Events(1, 2))
	require.NoError(t, err)
	require.NoError(t, s.DeleteBadge(ctx, "04A1B2C3"))

	changes := rec.take()
	last := changes[len(changes)-1]
	require.Equal(t, &domain.Badge{UID: "04A1B2C3", MemberID: "m1"}, last.Badge, "a delete carries the last state")
	var kinds []string
	for _, ch := range changes {
		k := string(ch.Kind)
		if ch.Deleted {
			k = "-" + k
		}
		kinds = append(kinds, k)
	}
	require.Equal(t, []string{"center", "room", "door", "member", "badge", "booking", "pass", "staff", "-badge"}, kinds)
	require.Equal(t, []string{"b1 visible=true"}, seen, "notified after commit")
}

// openAgain replaces the env's store by a fresh one with the notifier.
func openAgain(e *env, notify store.Notifier) store.Store {
	e.s = e.open(e.t, store.Options{Notify: notify})
	return e.s
}
