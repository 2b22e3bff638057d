package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Issue 15: check-in by badge and the release of room no-shows with a door
// that was offline. Two room bookings started a minute ago; the center
// releases after 1 minute. The member of the first taps the entrance while
// the door is cut off from the central: nothing is released while the door
// is away, and once it is back its backlog checks the first booking in
// (never released) while the second, nobody's tap, is released.
func TestNoShowReleaseWaitsForOfflineDoor(t *testing.T) {
	n := newNetwork(t, netOpts{doors: 1, serveArgs: []string{"--release-every", "200ms"}})
	c, d := n.centrals[0], n.doors["door-0"]
	synced(t, d)
	c.must("PUT", "/centers/c1/booking-rules", map[string]any{"max_advance_days": 60, "min_minutes": 30, "max_minutes": 720,
		"max_open_bookings": 0, "cancel_deadline_minutes": 0, "nomads_book_rooms": true, "within_opening_hours": false, "release_after_minutes": 1})
	c.must("POST", "/rooms", map[string]any{"id": "r1", "center_id": "c1", "name": "Big"})
	c.must("POST", "/rooms", map[string]any{"id": "r2", "center_id": "c1", "name": "Small"})

	v := d.whitelistVersion()
	start := time.Now().UTC().Add(-55 * time.Second).Truncate(time.Second)
	due := start.Add(time.Minute)
	c.must("POST", "/bookings", map[string]any{"id": "bk-tap", "member_id": "m1", "center_id": "c1", "room_id": "r1",
		"start": start, "end": start.Add(time.Hour), "status": "confirmed"})
	c.must("POST", "/bookings", map[string]any{"id": "bk-none", "member_id": "staff-1", "center_id": "c1", "room_id": "r2",
		"start": start, "end": start.Add(time.Hour), "status": "confirmed"})
	eventually(t, func() bool { return d.whitelistVersion() >= v+2 }, "the bookings reached the door")

	d.link.Cut()
	require.Equal(t, protocol.GrantedBooking, d.tap(uidMember), "offline, the door grants from its whitelist")
	tapped := time.Now()

	status := func(id string) string {
		var b struct{ Status string }
		require.NoError(t, json.Unmarshal(c.must("GET", "/bookings/"+id, nil), &b))
		return b.Status
	}
	type checkIn struct {
		CheckedIn bool      `json:"checked_in"`
		At        time.Time `json:"at"`
		Door      string    `json:"door"`
	}
	checkInOf := func(id string) checkIn {
		var ci checkIn
		require.NoError(t, json.Unmarshal(c.must("GET", "/bookings/"+id+"/check-in", nil), &ci))
		return ci
	}
	// Past the release time, with the door still away: several passes of
	// the release loop decide nothing.
	for time.Now().Before(due.Add(2 * time.Second)) {
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, "confirmed", status("bk-tap"), "not released while the door is away")
	require.Equal(t, "confirmed", status("bk-none"), "not released while the door is away")
	require.False(t, checkInOf("bk-tap").CheckedIn, "the tap is still in the door's outbox")

	d.link.Restore()
	eventually(t, func() bool { return checkInOf("bk-tap").CheckedIn }, "the door's backlog checked the booking in")
	ci := checkInOf("bk-tap")
	require.Equal(t, "door-0", ci.Door)
	require.WithinDuration(t, tapped, ci.At, 5*time.Second)
	eventually(t, func() bool { return status("bk-none") == "released" }, "the booking nobody tapped for was released once the door was back")
	require.Equal(t, "confirmed", status("bk-tap"), "the member who tapped offline keeps the room")
	require.False(t, checkInOf("bk-none").CheckedIn)
}
