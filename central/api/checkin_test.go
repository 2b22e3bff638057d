package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/store"
)

// TestCheckInAPI: a booking's check-in by badge, for its center's manager;
// another center's booking is answered like a missing one.
func TestCheckInAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	k1, err := f.st.Booking(ctx, "k1")
	require.NoError(t, err)
	type body struct {
		BookingID string     `json:"booking_id"`
		CheckedIn bool       `json:"checked_in"`
		At        *time.Time `json:"at"`
		Door      string     `json:"door"`
	}
	get := func(token, id string) (int, body) {
		res := f.do(token, "GET", "/bookings/"+id+"/check-in", nil)
		var b body
		if res.Status == http.StatusOK {
			require.NoError(t, json.Unmarshal(res.Body, &b), "%s", res.Body)
		}
		return res.Status, b
	}
	code, b := get("mgr1", "k1")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, body{BookingID: "k1"}, b, "not checked in yet")

	tap := k1.Start.Add(-5 * time.Minute).UTC().Truncate(time.Millisecond)
	_, err = f.st.CheckIns().CheckIn(ctx, store.CheckIn{BookingID: "k1", AtMs: tap.UnixMilli(), Door: "d1", Seq: 3})
	require.NoError(t, err)
	for _, tc := range []struct {
		token, id string
		status    int
	}{
		{"mgr1", "k1", http.StatusOK},
		{"admin", "k1", http.StatusOK},
		{"mgr1", "k2", http.StatusNotFound},
		{"mgr1", "nope", http.StatusNotFound},
	} {
		code, b := get(tc.token, tc.id)
		require.Equal(t, tc.status, code, "%s %s", tc.token, tc.id)
		if code == http.StatusOK {
			require.Equal(t, body{BookingID: "k1", CheckedIn: true, At: &tap, Door: "d1"}, b)
		}
	}
}
