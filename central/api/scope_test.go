package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/api/apitest"
	"github.com/smartworkcenters/swc/central/domain"
)

// TestForeignObjectsLookMissing asks, as a manager and a technician of c1,
// for objects of center c2 and for objects that do not exist at all: both
// answers must be the same (status and body, with the id swapped), so
// that nobody learns which ids exist in other centers.
func TestForeignObjectsLookMissing(t *testing.T) {
	booking := func(id string) domain.Booking {
		return domain.Booking{ID: id, MemberID: "m1", CenterID: "c1", Start: t0.Add(5 * time.Hour), End: t0.Add(6 * time.Hour), Status: domain.BookingConfirmed}
	}
	tests := []struct {
		who, method, path string // path with ID for the id
		foreign, missing  string
		body              func(id string) any
	}{
		{"mgr1", "GET", "/centers/ID", "c2", "c404", nil},
		{"tech1", "GET", "/centers/ID", "c2", "c404", nil},
		{"mgr1", "GET", "/rooms/ID", "r2", "r404", nil},
		{"mgr1", "PUT", "/rooms/ID", "r2", "r404", func(id string) any { return domain.Room{ID: id, CenterID: "c1", Name: "n"} }},
		{"mgr1", "DELETE", "/rooms/ID", "r2", "r404", nil},
		{"tech1", "GET", "/rooms/ID", "r2", "r404", nil},
		{"mgr1", "GET", "/doors/ID", "d2", "d404", nil},
		{"mgr1", "PUT", "/doors/ID", "d2", "d404", func(id string) any { return domain.Door{ID: id, CenterID: "c1", Name: "n"} }},
		{"mgr1", "DELETE", "/doors/ID", "d2", "d404", nil},
		{"mgr1", "GET", "/doors/ID/sequence", "d2", "d404", nil},
		{"tech1", "GET", "/doors/ID", "d2", "d404", nil},
		{"tech1", "POST", "/doors/ID/secret", "d2", "d404", nil},
		{"tech1", "POST", "/doors/ID/commands", "d2", "d404", func(string) any { return map[string]any{"action": "unlock"} }},
		{"mgr1", "GET", "/members/ID", "m2", "m404", nil},
		{"mgr1", "GET", "/members/ID", "n1", "m404", nil},
		{"mgr1", "PUT", "/members/ID", "m2", "m404", func(id string) any { return domain.Member{ID: id, Name: "n", HomeCenterID: "c1", Status: "active"} }},
		{"mgr1", "DELETE", "/members/ID", "m2", "m404", nil},
		{"mgr1", "GET", "/badges/ID", "22222222", "99999999", nil},
		{"mgr1", "PUT", "/badges/ID", "22222222", "99999999", func(id string) any { return domain.Badge{UID: "22222222", MemberID: "m1"} }},
		{"mgr1", "DELETE", "/badges/ID", "22222222", "99999999", nil},
		{"mgr1", "POST", "/badges", "m2", "m404", func(id string) any { return domain.Badge{UID: "55555555", MemberID: id} }},
		{"tech1", "POST", "/badges", "m2", "m404", func(id string) any { return domain.Badge{UID: "55555555", MemberID: id} }},
		{"mgr1", "GET", "/bookings/ID", "k2", "k404", nil},
		{"mgr1", "PUT", "/bookings/ID", "k2", "k404", func(id string) any { return booking(id) }},
		{"mgr1", "DELETE", "/bookings/ID", "k2", "k404", nil},
		{"mgr1", "GET", "/passes/ID", "p2", "p404", nil},
		// A room of another center named in a body is a missing room.
		{"mgr1", "POST", "/bookings", "r2", "r404", func(id string) any { b := booking("k77"); b.RoomID = id; return b }},
		{"mgr1", "POST", "/doors", "r2", "r404", func(id string) any { return domain.Door{ID: "d77", CenterID: "c1", Name: "n", RoomID: id} }},
		{"mgr1", "PUT", "/doors/d1", "r2", "r404", func(id string) any { return domain.Door{ID: "d1", CenterID: "c1", Name: "n", RoomID: id} }},
	}
	f := newFixture(t)
	f.srv = api.New(api.Config{Store: f.st, Logger: slog.New(slog.NewTextHandler(f.log, nil)), Commands: api.NewCommander(f.st, nil, nil, nil, nil, nil), Now: func() time.Time { return t0 }})
	for _, tc := range tests {
		var answers [2]response
		for i, id := range []string{tc.foreign, tc.missing} {
			var body any
			if tc.body != nil {
				body = tc.body(id)
			}
			answers[i] = f.do(tc.who, tc.method, strings.ReplaceAll(tc.path, "ID", id), body)
		}
		name := tc.who + " " + tc.method + " " + tc.path + " " + tc.foreign
		require.GreaterOrEqual(t, answers[0].Status, 400, "%s: %s", name, answers[0].Body)
		require.Equal(t, answers[1].Status, answers[0].Status, "%s: %s", name, answers[0].Body)
		require.Equal(t, strings.ReplaceAll(string(answers[1].Body), tc.missing, "ID"), strings.ReplaceAll(string(answers[0].Body), tc.foreign, "ID"), name)
	}
}

// TestBearerSchemeIsCaseInsensitive: the authentication scheme is a
// case-insensitive token (RFC 9110 11.1, RFC 6750 2.1).
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		for _, sep := range []string{" ", "  "} {
			req := httptest.NewRequest("GET", api.Prefix+"/whoami", nil)
			req.Header.Set("Authorization", scheme+sep+f.tokens["mgr1"])
			rec := apitest.Serve(t, f.srv, req)
			require.Equal(t, http.StatusOK, rec.Code, "%q: %s", scheme+sep, rec.Body)
		}
	}
	for _, h := range []string{"Bearer", "Bearer" + f.tokens["mgr1"], "Bearerx " + f.tokens["mgr1"], "Basic " + f.tokens["mgr1"], "bearer\t" + f.tokens["mgr1"] + "x"} {
		req := httptest.NewRequest("GET", api.Prefix+"/whoami", nil)
		req.Header.Set("Authorization", h)
		rec := apitest.Serve(t, f.srv, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "%q", h)
	}
}

// TestDeletedCenterTokens: a manager token of a deleted center stops
// working at once, and a center created later cannot take the deleted
// center's id (which would give the old token, and the old center's
// events, to the new one).
func TestDeletedCenterTokens(t *testing.T) {
	f := newFixture(t)
	res := f.do("admin", "POST", "/centers", domain.Center{ID: "c9", Name: "9", TimeZone: "UTC"})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	res = f.do("admin", "POST", "/tokens", map[string]any{"id": "mgr9", "name": "m", "role": "manager", "centers": []string{"c9"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var tok struct{ Secret string }
	require.NoError(t, json.Unmarshal(res.Body, &tok))
	f.tokens["mgr9"] = tok.Secret
	require.Equal(t, http.StatusOK, f.do("mgr9", "GET", "/whoami", nil).Status)

	require.Equal(t, http.StatusNoContent, f.do("admin", "DELETE", "/centers/c9", nil).Status)
	res = f.do("mgr9", "GET", "/whoami", nil)
	require.Equal(t, http.StatusUnauthorized, res.Status, "the deleted center's token is revoked")

	res = f.do("admin", "POST", "/centers", domain.Center{ID: "c9", Name: "new 9", TimeZone: "UTC"})
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	require.Equal(t, "id_retired", res.Err.Code)
	require.Equal(t, "id", res.Err.Field)
	require.Contains(t, res.Err.Message, "choose another id")
	require.Equal(t, http.StatusUnauthorized, f.do("mgr9", "GET", "/centers", nil).Status)
}
