package server_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail/mailtest"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestCheckInAndReleaseThroughServe runs serve's wiring: a door's granted
// tap, published over MQTT, checks its member's booking in; a room booking
// nobody checked in to is released by serve's loop, the door gets the
// delta that takes the right away, and the member gets one e-mail.
func TestCheckInAndReleaseThroughServe(t *testing.T) {
	relay := mailtest.Start(t, mailtest.Options{})
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir, ReleaseEvery: 100 * time.Millisecond, Mail: relay.Config("Smart Work Centers <noreply@swc.example>")})
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	keys := protocol.NewKeyRing(s.Signer.PublicKey())
	mustCall := func(method, path string, body any) []byte {
		code, b := call(t, s, token, method, path, body)
		require.Less(t, code, 300, "%s %s: %s", method, path, b)
		return b
	}
	mustCall("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	mustCall("POST", "/api/v1/rooms", map[string]any{"id": "r1", "center_id": "c1", "name": "Big"})
	mustCall("POST", "/api/v1/rooms", map[string]any{"id": "r2", "center_id": "c1", "name": "Small"})
	mustCall("POST", "/api/v1/doors", map[string]any{"id": "door-a", "center_id": "c1", "name": "Front"})
	mustCall("POST", "/api/v1/members", map[string]any{"id": "m1", "name": "Ann", "status": "active"})
	mustCall("POST", "/api/v1/members", map[string]any{"id": "m2", "name": "Bob", "email": "bob@example.org", "status": "active"})
	mustCall("POST", "/api/v1/badges", map[string]any{"uid": "04A1B2C3", "member_id": "m1"})
	mustCall("POST", "/api/v1/badges", map[string]any{"uid": "04B1B2C3", "member_id": "m2"})
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(mustCall("POST", "/api/v1/doors/door-a/secret", nil), &sec))
	d, err := connectDoor(t, s, "door-a", sec.Secret)
	require.NoError(t, err)
	d.firstWhitelist(t, keys) // online, with its snapshot

	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	// m1's room booking starts in 5 minutes; m2's started 20 minutes ago.
	mustCall("POST", "/api/v1/bookings", map[string]any{"id": "bk-in", "member_id": "m1", "center_id": "c1", "room_id": "r1",
		"start": now.Add(5 * time.Minute), "end": now.Add(time.Hour), "status": "confirmed"})
	mustCall("POST", "/api/v1/bookings", map[string]any{"id": "bk-gone", "member_id": "m2", "center_id": "c1", "room_id": "r2",
		"start": now.Add(-20 * time.Minute), "end": now.Add(time.Hour), "status": "confirmed"})

	d.publish(t, protocol.TopicEvents, &protocol.EventBatch{V: protocol.Version, Door: "door-a", Events: []protocol.Event{
		{Seq: 1, TimeMs: now.UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventTap, UID: "04A1B2C3", Member: "m1", Reason: protocol.GrantedBooking, WLVersion: 1},
	}})
	require.Eventually(t, func() bool {
		ins, err := s.Booking.CheckIns(ctx, []string{"bk-in", "bk-gone"})
		require.NoError(t, err)
		return len(ins) == 1 && ins["bk-in"] == store.CheckIn{BookingID: "bk-in", AtMs: now.UnixMilli(), Door: "door-a", Seq: 1}
	}, 10*time.Second, 20*time.Millisecond, "the tap checked m1's booking in")

	require.Eventually(t, func() bool {
		b, err := s.Store.Booking(ctx, "bk-gone")
		require.NoError(t, err)
		return b.Status == domain.BookingReleased
	}, 10*time.Second, 20*time.Millisecond, "m2's room booking released")
	// The door loses m2's right: a delta removes the badge (its only grant).
	require.Eventually(t, func() bool {
		for _, raw := range d.received(protocol.TopicWhitelist) {
			wl, err := keys.OpenWhitelist(raw, time.Now())
			require.NoError(t, err)
			if wl.Kind == protocol.Delta && slices.Contains(wl.Removed, protocol.UID("04B1B2C3")) {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a delta took m2's right away")
	got := relay.Wait(t, 1)
	require.Equal(t, []string{"bob@example.org"}, got[0].To)
	require.Contains(t, got[0].Subject, "Booking released")
	b, err := s.Store.Booking(ctx, "bk-in")
	require.NoError(t, err)
	require.Equal(t, domain.BookingConfirmed, b.Status, "a booking not due yet stays")
	rep, err := s.Booking.ReleaseNoShows(ctx) // one more pass, as the loop's next one
	require.NoError(t, err)
	require.Empty(t, rep.Released, "released once")
}

// TestCheckInSurvivesRestart: a granted tap stored by the ingest of a
// central that stops before its check-in follower applied it (here the
// tap goes to the store directly, as when the ingest's hook is skipped at
// stop or the process dies) checks its booking in after serve starts again
// on the same store, SQLite and PostgreSQL.
func TestCheckInSurvivesRestart(t *testing.T) {
	for _, db := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresSchema(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			cfg := server.Config{DataDir: filepath.Join(t.TempDir(), "data"), DBURL: db.url(t)}
			s, _ := start(t, cfg)
			ctx := context.Background()
			now := time.Now().UTC().Truncate(time.Second)
			require.NoError(t, s.Store.CreateCenter(ctx, domain.Center{ID: "c1", Name: "One", TimeZone: "Europe/Brussels"}))
			require.NoError(t, s.Store.CreateDoor(ctx, domain.Door{ID: "door-a", CenterID: "c1", Name: "Front"}))
			require.NoError(t, s.Store.CreateMember(ctx, domain.Member{ID: "m1", Name: "Ann", Status: domain.MemberActive}))
			require.NoError(t, s.Store.CreateBooking(ctx, domain.Booking{ID: "bk1", MemberID: "m1", CenterID: "c1",
				Start: now.Add(-time.Minute), End: now.Add(time.Hour), Status: domain.BookingConfirmed}))
			_, err := s.Store.AppendEvents(ctx, "door-a", now.UnixMilli(), []protocol.Event{{Seq: 1, TimeMs: now.UnixMilli(), Trusted: true,
				Boot: "b1", Kind: protocol.EventTap, UID: "04A1B2C3", Member: "m1", Reason: protocol.GrantedBooking, WLVersion: 1}})
			require.NoError(t, err)
			require.NoError(t, s.Shutdown(ctx))

			s, _ = start(t, cfg)
			require.Eventually(t, func() bool {
				ins, err := s.Booking.CheckIns(ctx, []string{"bk1"})
				require.NoError(t, err)
				return ins["bk1"] == store.CheckIn{BookingID: "bk1", AtMs: now.UnixMilli(), Door: "door-a", Seq: 1}
			}, 10*time.Second, 20*time.Millisecond, "the tap stored before the restart checked the booking in")
		})
	}
}
