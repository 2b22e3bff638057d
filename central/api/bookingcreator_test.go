package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
)

// The central records who created a booking from the caller's token; a
// caller can neither set nor change it (issue 14, item 8).
func TestBookingCreatorFromCaller(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	body := func(id, center string, h int, extra map[string]any) map[string]any {
		b := map[string]any{"id": id, "member_id": "n1", "center_id": center, "status": "confirmed",
			"start": t0.Add(time.Duration(h) * time.Hour), "end": t0.Add(time.Duration(h+1) * time.Hour)}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	stored := func(id string) domain.BookingCreator {
		t.Helper()
		b, err := f.st.Booking(ctx, id)
		require.NoError(t, err)
		return b.CreatedBy
	}
	staff1 := domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: "c1", TokenID: "mgr1"}
	coop := domain.BookingCreator{Role: domain.CreatorCooperative, TokenID: "admin"}

	res := f.do("mgr1", "POST", "/bookings", body("x1", "c1", 2, nil))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.Equal(t, staff1, stored("x1"))
	var echoed domain.Booking
	require.NoError(t, json.Unmarshal(res.Body, &echoed))
	require.Equal(t, staff1, echoed.CreatedBy, "the answer shows the recorded creator")

	res = f.do("admin", "POST", "/bookings", body("x2", "c2", 2, nil))
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.Equal(t, coop, stored("x2"))

	// A manager cannot pass their own center's booking off as the member's
	// or the cooperative's.
	for _, forged := range []map[string]any{
		{"role": "member"},
		{"role": "cooperative", "token_id": "admin"},
		{"role": "center_staff", "center_id": "c1", "token_id": "mgr1"},
	} {
		res = f.do("mgr1", "POST", "/bookings", body("x3", "c1", 3, map[string]any{"created_by": forged}))
		require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Body)
		require.Equal(t, "created_by", res.Err.Field)
	}
	_, err := f.st.Booking(ctx, "x3")
	require.Error(t, err, "nothing stored")

	// An update keeps the creator; one that names another creator is refused.
	res = f.do("admin", "PUT", "/bookings/x1", body("x1", "c1", 4, nil))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, staff1, stored("x1"))
	require.NoError(t, json.Unmarshal(res.Body, &echoed))
	require.Equal(t, staff1, echoed.CreatedBy)
	res = f.do("mgr1", "PUT", "/bookings/x1", body("x1", "c1", 4, map[string]any{"created_by": map[string]any{"role": "member"}}))
	require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Body)
	require.Equal(t, "created_by", res.Err.Field)
	require.Equal(t, staff1, stored("x1"))
	// What GET answers can be PUT back as it is.
	res = f.do("mgr1", "GET", "/bookings/x1", nil)
	require.Equal(t, http.StatusOK, res.Status)
	res = f.do("mgr1", "PUT", "/bookings/x1", string(res.Body))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.Equal(t, staff1, stored("x1"))

	// Imports: the creator is the importer, JSON or CSV; a row naming one is refused.
	res = f.do("mgr1", "POST", "/bookings/import", map[string]any{"bookings": []any{body("y1", "c1", 6, nil)}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.Equal(t, staff1, stored("y1"))
	res = f.do("admin", "POST", "/bookings/import", "id,member_id,center_id,start,end\ny2,n1,c1,2026-03-03T09:00:00Z,2026-03-03T10:00:00Z\n", "text/csv")
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.Equal(t, coop, stored("y2"))
	res = f.do("mgr1", "POST", "/bookings/import", map[string]any{"bookings": []any{
		body("y3", "c1", 7, nil), body("y4", "c1", 8, map[string]any{"created_by": map[string]any{"role": "cooperative"}}),
	}})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	require.Contains(t, string(res.Body), `"field":"created_by"`)
	_, err = f.st.Booking(ctx, "y3")
	require.Error(t, err, "nothing of a refused import is stored")
}
