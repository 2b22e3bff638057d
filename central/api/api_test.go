package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/api/apitest"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// fixture is an API over a real SQLite store holding two centers' data and
// tokens of every role.
type fixture struct {
	t       *testing.T
	st      store.Store
	srv     *api.Server
	reg     *metrics.Registry
	log     *bytes.Buffer
	changes []domain.Change
	tokens  map[string]string // name -> secret
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, reg: metrics.NewRegistry(), log: &bytes.Buffer{}, tokens: map[string]string{}}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{
		Options: store.Options{Notify: func(_ context.Context, ch domain.Change) { f.changes = append(f.changes, ch) }},
	})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	f.st = st
	f.srv = api.New(api.Config{Store: st, Metrics: f.reg, Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		Now: func() time.Time { return t0 }, MaxBody: 4096, MaxImportBody: 1 << 20})

	ctx := context.Background()
	must := func(err error) { t.Helper(); require.NoError(t, err) }
	for _, c := range []string{"c1", "c2"} {
		must(st.CreateCenter(ctx, domain.Center{ID: c, Name: c, TimeZone: "Europe/Brussels"}))
		must(st.CreateRoom(ctx, domain.Room{ID: "r" + c[1:], CenterID: c, Name: "room"}))
		must(st.CreateDoor(ctx, domain.Door{ID: "d" + c[1:], CenterID: c, Name: "front"}))
		must(st.CreateMember(ctx, domain.Member{ID: "m" + c[1:], Name: "local", HomeCenterID: c, Status: domain.MemberActive}))
		must(st.AddStaff(ctx, domain.Staff{MemberID: "m" + c[1:], CenterID: c}))
		must(st.CreateBooking(ctx, domain.Booking{ID: "k" + c[1:], MemberID: "m" + c[1:], CenterID: c, RoomID: "r" + c[1:],
			Start: t0, End: t0.Add(time.Hour), Status: domain.BookingConfirmed}))
		must(st.CreatePass(ctx, domain.Pass{ID: "p" + c[1:], MemberID: "m" + c[1:], ValidFrom: t0, ValidUntil: t0.Add(24 * time.Hour), CenterIDs: []string{c}}))
		ev := protocol.Event{Seq: 1, TimeMs: t0.UnixMilli(), Boot: "b", Kind: protocol.EventDoorForced}
		_, err := st.AppendEvents(ctx, "d"+c[1:], t0.UnixMilli(), []protocol.Event{ev})
		must(err)
	}
	must(st.CreateBadge(ctx, domain.Badge{UID: "11111111", MemberID: "m1"}))
	must(st.CreateBadge(ctx, domain.Badge{UID: "22222222", MemberID: "m2"}))
	must(st.CreateMember(ctx, domain.Member{ID: "n1", Name: "nomad", Status: domain.MemberActive}))
	for name, tk := range map[string]store.Token{
		"admin": {ID: "admin", Name: "admin", Role: store.RoleAdmin},
		"mgr1":  {ID: "mgr1", Name: "manager c1", Role: store.RoleManager, Centers: []string{"c1"}},
		"tech1": {ID: "tech1", Name: "technician c1", Role: store.RoleTechnician, Centers: []string{"c1"}},
	} {
		f.tokens[name] = store.NewSecret(api.TokenPrefix)
		must(st.CreateToken(ctx, tk, f.tokens[name]))
	}
	f.changes = nil
	return f
}

type response struct {
	Status int
	Body   []byte
	Err    api.Error
}

// do sends a request as the named token ("" for none). A body that is not
// a string or []byte is sent as JSON.
func (f *fixture) do(who, method, path string, body any, contentType ...string) response {
	f.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		require.NoError(f.t, err)
		rd = bytes.NewReader(js)
	}
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	req := httptest.NewRequest(method, api.Prefix+path, rd)
	if rd != nil && ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[who])
	}
	rec := apitest.Serve(f.t, f.srv, req)
	res := response{Status: rec.Code, Body: rec.Body.Bytes()}
	if rec.Code >= 400 {
		require.NoError(f.t, json.Unmarshal(res.Body, &res.Err), "error body %s", res.Body)
		require.NotEmpty(f.t, res.Err.Code)
		require.NotEmpty(f.t, res.Err.Message)
		require.NotContains(f.t, string(res.Body), "goroutine", "no stack traces")
	}
	return res
}

func (f *fixture) items(who, path string) []map[string]any {
	f.t.Helper()
	res := f.do(who, "GET", path, nil)
	require.Equal(f.t, http.StatusOK, res.Status, "%s", res.Body)
	var page struct {
		Items []map[string]any `json:"items"`
	}
	require.NoError(f.t, json.Unmarshal(res.Body, &page))
	return page.Items
}

func field(items []map[string]any, name string) []string {
	out := []string{}
	for _, it := range items {
		v, _ := it[name].(string)
		out = append(out, v)
	}
	return out
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, header string
	}{{"none", ""}, {"not bearer", "Basic YWRtaW46YWRtaW4="}, {"unknown", "Bearer swct_nope"}, {"empty", "Bearer "}} {
		req := httptest.NewRequest("GET", api.Prefix+"/centers", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		rec := apitest.Serve(t, f.srv, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, tc.name)
		require.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer", tc.name)
		require.Contains(t, rec.Body.String(), `"code":"unauthorized"`, tc.name)
	}
	res := f.do("mgr1", "GET", "/whoami", nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.JSONEq(t, `{"id":"mgr1","name":"manager c1","role":"manager","centers":["c1"],"created_ms":0}`, string(res.Body))
	res = f.do("", "GET", "/openapi.json", nil)
	require.Equal(t, http.StatusOK, res.Status, "the OpenAPI document is public")
	res = f.do("admin", "GET", "/nothing-here", nil)
	require.Equal(t, http.StatusNotFound, res.Status)
	require.Equal(t, "not_found", res.Err.Code)
	res = f.do("admin", "PATCH", "/centers/c1", `{}`)
	require.Equal(t, http.StatusMethodNotAllowed, res.Status)
	require.Equal(t, "method_not_allowed", res.Err.Code)
	require.Contains(t, res.Err.Message, "GET or PUT or DELETE")
}

// TestRoles checks, for every resource, what each role may and may not do.
// mgr1 and tech1 hold center c1; every "…2" object belongs to center c2,
// and is answered to them as if it did not exist (404, or 422 for a
// reference in a body).
func TestRoles(t *testing.T) {
	booking := func(id, center, room string, h int) domain.Booking {
		return domain.Booking{ID: id, MemberID: "n1", CenterID: center, RoomID: room, Start: t0.Add(time.Duration(h) * time.Hour),
			End: t0.Add(time.Duration(h+1) * time.Hour), Status: domain.BookingConfirmed}
	}
	tests := []struct {
		who, method, path string
		body              any
		want              int
	}{
		// centers
		{"admin", "POST", "/centers", domain.Center{ID: "c3", Name: "3", TimeZone: "UTC"}, 201},
		{"mgr1", "POST", "/centers", domain.Center{ID: "c3", Name: "3", TimeZone: "UTC"}, 403},
		{"mgr1", "GET", "/centers/c1", nil, 200},
		{"mgr1", "GET", "/centers/c2", nil, 404},
		{"mgr1", "PUT", "/centers/c1", domain.Center{ID: "c1", Name: "x", TimeZone: "UTC"}, 403},
		{"mgr1", "PUT", "/centers/c2", domain.Center{ID: "c2", Name: "x", TimeZone: "UTC"}, 403},
		{"mgr1", "DELETE", "/centers/c2", nil, 403},
		{"tech1", "GET", "/centers/c1", nil, 200},
		{"tech1", "GET", "/centers/c2", nil, 404},
		{"admin", "PUT", "/centers/c2", domain.Center{ID: "c2", Name: "two", TimeZone: "UTC"}, 200},
		// rooms
		{"mgr1", "POST", "/rooms", domain.Room{ID: "r9", CenterID: "c1", Name: "n"}, 201},
		{"mgr1", "POST", "/rooms", domain.Room{ID: "r8", CenterID: "c2", Name: "n"}, 403},
		{"mgr1", "GET", "/rooms/r2", nil, 404},
		{"mgr1", "PUT", "/rooms/r2", domain.Room{ID: "r2", CenterID: "c2", Name: "n"}, 404},
		{"mgr1", "DELETE", "/rooms/r2", nil, 404},
		{"mgr1", "PUT", "/rooms/r1", domain.Room{ID: "r1", CenterID: "c1", Name: "renamed"}, 200},
		{"tech1", "GET", "/rooms/r1", nil, 200},
		{"tech1", "POST", "/rooms", domain.Room{ID: "r7", CenterID: "c1", Name: "n"}, 403},
		// doors
		{"mgr1", "POST", "/doors", domain.Door{ID: "d9", CenterID: "c1", Name: "n"}, 201},
		{"mgr1", "POST", "/doors", domain.Door{ID: "d8", CenterID: "c2", Name: "n"}, 403},
		{"mgr1", "GET", "/doors/d2", nil, 404},
		{"mgr1", "PUT", "/doors/d2", domain.Door{ID: "d2", CenterID: "c2", Name: "n"}, 404},
		{"mgr1", "DELETE", "/doors/d2", nil, 404},
		{"mgr1", "POST", "/doors/d2/secret", nil, 404},
		{"mgr1", "GET", "/doors/d2/sequence", nil, 404},
		{"mgr1", "GET", "/doors/d1/sequence", nil, 200},
		{"tech1", "GET", "/doors/d1", nil, 200},
		{"tech1", "PUT", "/doors/d1", domain.Door{ID: "d1", CenterID: "c1", Name: "renamed", Exit: true}, 200},
		{"tech1", "POST", "/doors/d1/secret", nil, 200},
		{"tech1", "GET", "/doors/d2", nil, 404},
		{"tech1", "PUT", "/doors/d2", domain.Door{ID: "d2", CenterID: "c2", Name: "n"}, 404},
		{"tech1", "POST", "/doors/d2/secret", nil, 404},
		{"tech1", "POST", "/doors", domain.Door{ID: "d7", CenterID: "c1", Name: "n"}, 403},
		{"tech1", "DELETE", "/doors/d1", nil, 403},
		{"tech1", "GET", "/doors/d1/sequence", nil, 403},
		// members
		{"mgr1", "POST", "/members", domain.Member{ID: "m9", Name: "n", HomeCenterID: "c1", Status: "active"}, 201},
		{"mgr1", "POST", "/members", domain.Member{ID: "m8", Name: "n", HomeCenterID: "c2", Status: "active"}, 403},
		{"mgr1", "POST", "/members", domain.Member{ID: "m8", Name: "n", Status: "active"}, 403},
		{"mgr1", "GET", "/members/m2", nil, 404},
		{"mgr1", "GET", "/members/n1", nil, 404},
		{"mgr1", "PUT", "/members/m2", domain.Member{ID: "m2", Name: "n", HomeCenterID: "c1", Status: "active"}, 404},
		{"mgr1", "PUT", "/members/m1", domain.Member{ID: "m1", Name: "n", HomeCenterID: "c2", Status: "active"}, 403},
		{"mgr1", "DELETE", "/members/m2", nil, 404},
		{"mgr1", "PUT", "/members/m1", domain.Member{ID: "m1", Name: "renamed", HomeCenterID: "c1", Status: "active"}, 200},
		{"tech1", "GET", "/members/m1", nil, 403},
		// badges
		{"mgr1", "POST", "/badges", domain.Badge{UID: "33333333", MemberID: "m1"}, 201},
		{"mgr1", "POST", "/badges", domain.Badge{UID: "44444444", MemberID: "m2"}, 422},
		{"mgr1", "GET", "/badges/22222222", nil, 404},
		{"mgr1", "PUT", "/badges/22222222", domain.Badge{UID: "22222222", MemberID: "m1"}, 404},
		{"mgr1", "PUT", "/badges/11111111", domain.Badge{UID: "11111111", MemberID: "m2"}, 422},
		{"mgr1", "DELETE", "/badges/22222222", nil, 404},
		{"mgr1", "PUT", "/badges/11111111", domain.Badge{UID: "11111111", MemberID: "m1", Revoked: true}, 200},
		{"tech1", "GET", "/badges/11111111", nil, 404}, // a technician sees the badges they added
		// bookings
		{"mgr1", "POST", "/bookings", booking("k9", "c1", "", 2), 201},
		{"mgr1", "POST", "/bookings", booking("k8", "c2", "", 2), 403},
		{"mgr1", "GET", "/bookings/k2", nil, 404},
		{"mgr1", "PUT", "/bookings/k2", booking("k2", "c2", "", 3), 404},
		{"mgr1", "PUT", "/bookings/k1", booking("k1", "c2", "", 3), 403},
		{"mgr1", "DELETE", "/bookings/k2", nil, 404},
		{"mgr1", "POST", "/bookings/import", map[string]any{"bookings": []domain.Booking{booking("k7", "c2", "", 5)}}, 422},
		{"tech1", "GET", "/bookings/k1", nil, 403},
		// passes
		{"mgr1", "GET", "/passes/p1", nil, 200},
		{"mgr1", "GET", "/passes/p2", nil, 404},
		{"mgr1", "POST", "/passes", domain.Pass{ID: "p9", MemberID: "m1", ValidFrom: t0, ValidUntil: t0.Add(time.Hour)}, 403},
		{"mgr1", "PUT", "/passes/p2", domain.Pass{ID: "p2", MemberID: "m2", ValidFrom: t0, ValidUntil: t0.Add(time.Hour)}, 403},
		{"mgr1", "DELETE", "/passes/p2", nil, 403},
		{"admin", "POST", "/passes", domain.Pass{ID: "p9", MemberID: "n1", ValidFrom: t0, ValidUntil: t0.Add(time.Hour)}, 201},
		// staff
		{"mgr1", "POST", "/staff", domain.Staff{MemberID: "n1", CenterID: "c1"}, 201},
		{"mgr1", "POST", "/staff", domain.Staff{MemberID: "n1", CenterID: "c2"}, 403},
		{"mgr1", "POST", "/staff", domain.Staff{MemberID: "n1"}, 403},
		{"mgr1", "DELETE", "/staff/m2?center_id=c2", nil, 403},
		{"mgr1", "DELETE", "/staff/n1?center_id=c1", nil, 204},
		{"tech1", "GET", "/staff", nil, 403},
		// events and tokens
		{"tech1", "GET", "/events", nil, 403},
		{"mgr1", "GET", "/tokens", nil, 403},
		{"mgr1", "POST", "/tokens", map[string]any{"name": "x", "role": "admin"}, 403},
		{"mgr1", "DELETE", "/tokens/admin", nil, 403},
		{"tech1", "GET", "/tokens", nil, 403},
		{"admin", "DELETE", "/badges/22222222", nil, 204},
		{"admin", "DELETE", "/bookings/k2", nil, 204},
	}
	f := newFixture(t)
	for _, tc := range tests {
		res := f.do(tc.who, tc.method, tc.path, tc.body)
		require.Equal(t, tc.want, res.Status, "%s %s %s: %s", tc.who, tc.method, tc.path, res.Body)
		switch tc.want {
		case 403:
			require.Equal(t, "forbidden", res.Err.Code)
		case 404: // another center's object is answered as a missing one
			require.Equal(t, "not_found", res.Err.Code)
		}
	}
	// Nothing of c2 was changed by the refused calls.
	for _, check := range []func() error{
		func() error { _, err := f.st.Room(context.Background(), "r2"); return err },
		func() error { _, err := f.st.Member(context.Background(), "m2"); return err },
		func() error { _, err := f.st.Pass(context.Background(), "p2"); return err },
	} {
		require.NoError(t, check())
	}
	m2, err := f.st.Member(context.Background(), "m2")
	require.NoError(t, err)
	require.Equal(t, "c2", m2.HomeCenterID)
}

// TestListsAreScoped checks every list a manager may call returns their
// center's objects only, even when they ask for another center.
func TestListsAreScoped(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path, field string
		admin, mgr  []string
	}{
		{"/centers", "id", []string{"c1", "c2"}, []string{"c1"}},
		{"/rooms", "center_id", []string{"c1", "c2"}, []string{"c1"}},
		{"/rooms?center_id=c2", "center_id", []string{"c2"}, []string{}},
		{"/doors", "center_id", []string{"c1", "c2"}, []string{"c1"}},
		{"/doors?center_id=c2", "center_id", []string{"c2"}, []string{}},
		{"/members", "home_center_id", []string{"c1", "c2", ""}, []string{"c1"}},
		{"/members?nomadic=true", "id", []string{"n1"}, []string{}},
		{"/members?home_center_id=c2", "id", []string{"m2"}, []string{}},
		{"/badges", "member_id", []string{"m1", "m2"}, []string{"m1"}},
		{"/bookings", "center_id", []string{"c1", "c2"}, []string{"c1"}},
		{"/bookings?center_id=c2", "center_id", []string{"c2"}, []string{}},
		{"/passes", "id", []string{"p1", "p2"}, []string{"p1"}},
		{"/staff", "center_id", []string{"c1", "c2"}, []string{"c1"}},
		{"/staff?center_id=c2", "center_id", []string{"c2"}, []string{}},
		{"/events", "center", []string{"c1", "c2"}, []string{"c1"}},
		{"/events?center_id=c2", "center", []string{"c2"}, []string{}},
		{"/events?door=d2", "door", []string{"d2"}, []string{}},
	}
	for _, tc := range tests {
		require.Equal(t, tc.admin, field(f.items("admin", tc.path), tc.field), "admin %s", tc.path)
		require.Equal(t, tc.mgr, field(f.items("mgr1", tc.path), tc.field), "mgr1 %s", tc.path)
	}
	require.Equal(t, []string{"d1"}, field(f.items("tech1", "/doors"), "id"))
	require.Equal(t, []string{"c1"}, field(f.items("tech1", "/centers"), "id"))
}

func TestRequestValidation(t *testing.T) {
	f := newFixture(t)
	big := `{"id":"c9","name":"` + strings.Repeat("x", 5000) + `","time_zone":"UTC"}`
	tests := []struct {
		name, method, path string
		body               any
		ct                 string
		status             int
		code, field        string
	}{
		{"oversize body", "POST", "/centers", big, "application/json", 413, "body_too_large", ""},
		{"malformed JSON", "POST", "/centers", `{"id":"c9",`, "application/json", 400, "malformed_json", ""},
		{"not JSON", "POST", "/centers", `<center/>`, "application/json", 400, "malformed_json", ""},
		{"empty body", "POST", "/centers", ``, "application/json", 400, "malformed_json", ""},
		{"trailing data", "POST", "/centers", `{"id":"c9","name":"n","time_zone":"UTC"} {}`, "application/json", 400, "malformed_json", ""},
		{"unknown field", "POST", "/centers", `{"id":"c9","name":"n","time_zone":"UTC","owner":"me"}`, "application/json", 400, "unknown_field", "owner"},
		{"wrong type", "POST", "/centers", `{"id":"c9","name":"n","time_zone":"UTC","rate_cents":"ten"}`, "application/json", 400, "invalid", "rate_cents"},
		{"wrong media type", "POST", "/centers", `id=c9`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", ""},
		{"invalid value", "POST", "/centers", `{"id":"c9","name":"n","time_zone":"Nowhere/Else"}`, "application/json", 400, "invalid", "time_zone"},
		{"invalid id", "POST", "/rooms", `{"id":"a/b","center_id":"c1","name":"n"}`, "application/json", 400, "invalid", "id"},
		{"missing reference", "POST", "/rooms", `{"id":"r9","center_id":"c9","name":"n"}`, "application/json", 422, "missing_ref", "center_id"},
		{"duplicate id", "POST", "/rooms", `{"id":"r1","center_id":"c1","name":"n"}`, "application/json", 409, "exists", "id"},
		{"duplicate badge UID", "POST", "/badges", `{"uid":"11111111","member_id":"m2"}`, "application/json", 409, "duplicate_badge_uid", "uid"},
		{"lower-case UID", "POST", "/badges", `{"uid":"abcdef01","member_id":"m2"}`, "application/json", 400, "invalid", "uid"},
		{"booking ends before it starts", "POST", "/bookings", `{"id":"k9","member_id":"n1","center_id":"c1","start":"2026-03-02T10:00:00Z","end":"2026-03-02T09:00:00Z","status":"confirmed"}`, "application/json", 400, "invalid", "end"},
		{"booking overlaps the room", "POST", "/bookings", `{"id":"k9","member_id":"n1","center_id":"c1","room_id":"r1","start":"2026-03-02T09:30:00Z","end":"2026-03-02T11:00:00Z","status":"confirmed"}`, "application/json", 409, "booking_overlap", "start"},
		{"path and body ids differ", "PUT", "/rooms/r1", `{"id":"r2","center_id":"c1","name":"n"}`, "application/json", 400, "invalid", "id"},
		{"in use", "DELETE", "/centers/c1", nil, "", 409, "in_use", ""},
		{"not found", "GET", "/bookings/nope", nil, "", 404, "not_found", ""},
		{"bad limit", "GET", "/bookings?limit=0", nil, "", 400, "invalid", "limit"},
		{"huge limit", "GET", "/bookings?limit=100000", nil, "", 400, "invalid", "limit"},
		{"unknown parameter", "GET", "/bookings?colour=red", nil, "", 400, "unknown_parameter", "colour"},
		{"bad time", "GET", "/events?from=yesterday", nil, "", 400, "invalid", "from"},
		{"bad kind", "GET", "/events?kind=explosion", nil, "", 400, "invalid", "kind"},
		{"bad cursor", "GET", "/events?after=xyz", nil, "", 400, "invalid", "after"},
		{"bad status", "GET", "/bookings?status=maybe", nil, "", 400, "invalid", "status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do("admin", tc.method, tc.path, tc.body, tc.ct)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			require.Equal(t, tc.code, res.Err.Code, "%s", res.Body)
			require.Equal(t, tc.field, res.Err.Field, "%s", res.Body)
		})
	}
	require.Empty(t, f.changes, "no refused request changed anything")
	var text bytes.Buffer
	require.NoError(t, f.reg.WriteText(&text))
	require.Contains(t, text.String(), `swc_api_rejects_total{code="body_too_large"} 1`)
	require.Contains(t, text.String(), `swc_api_rejects_total{code="unknown_field"} 1`)
	require.Contains(t, f.log.String(), "api: request refused")
	require.Contains(t, f.log.String(), "code=duplicate_badge_uid")
}

func TestBookingImport(t *testing.T) {
	f := newFixture(t)
	row := func(id, center, room string, h int) domain.Booking {
		return domain.Booking{ID: id, MemberID: "n1", CenterID: center, RoomID: room, Start: t0.Add(time.Duration(h) * time.Hour),
			End: t0.Add(time.Duration(h+1) * time.Hour), Status: domain.BookingConfirmed}
	}
	// JSON, all rows fine.
	res := f.do("admin", "POST", "/bookings/import", map[string]any{"bookings": []domain.Booking{row("j1", "c1", "r1", 1), row("j2", "c2", "", 1)}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.JSONEq(t, `{"imported":2}`, string(res.Body))
	require.Len(t, f.changes, 2, "one change per booking")

	// CSV, all rows fine (a manager, own center).
	csv := "id,member_id,center_id,room_id,start,end\n" +
		"v1,n1,c1,r1,2026-03-02T12:00:00+01:00,2026-03-02T13:00:00+01:00\n" +
		"v2,m1,c1,,2026-03-03T09:00:00Z,2026-03-03T17:00:00Z\n"
	res = f.do("mgr1", "POST", "/bookings/import", csv, "text/csv")
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	b, err := f.st.Booking(context.Background(), "v1")
	require.NoError(t, err)
	require.True(t, b.Start.Equal(t0.Add(2*time.Hour)))

	// CSV with wrong rows: nothing is stored, every wrong row is reported.
	bad := "start,end,id,member_id,center_id,room_id,status\n" +
		"2026-03-04T09:00:00Z,2026-03-04T10:00:00Z,w1,n1,c1,r1,confirmed\n" + // 1: fine
		"2026-03-04T09:30:00Z,2026-03-04T10:30:00Z,w2,n1,c1,r1,confirmed\n" + // 2: overlaps row 1
		"2026-03-04T11:00:00Z,2026-03-04T10:00:00Z,w3,n1,c1,,confirmed\n" + // 3: ends before it starts
		"tomorrow,2026-03-04T10:00:00Z,w4,n1,c1,,confirmed\n" + // 4: bad time
		"2026-03-02T09:00:00Z,2026-03-02T09:30:00Z,w5,n1,c1,r1,confirmed\n" + // 5: overlaps k1
		"2026-03-04T09:00:00Z,2026-03-04T10:00:00Z,w6,n1\n" // 6: too few fields
	res = f.do("admin", "POST", "/bookings/import", bad, "text/csv")
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	require.Equal(t, "import_rejected", res.Err.Code)
	rows := map[int]string{}
	for _, r := range res.Err.Rows {
		rows[r.Row] = r.Code + ":" + r.Field
	}
	// Rows that do not parse are reported first; the store checks the rest
	// once the file parses.
	require.Equal(t, map[int]string{4: "invalid:start", 6: "invalid:"}, rows)
	bad = strings.Join(strings.Split(bad, "\n")[:4], "\n") + "\n" + strings.Split(bad, "\n")[5] + "\n"
	res = f.do("admin", "POST", "/bookings/import", bad, "text/csv")
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	rows = map[int]string{}
	for _, r := range res.Err.Rows {
		rows[r.Row] = r.Code + ":" + r.Field
	}
	require.Equal(t, map[int]string{3: "invalid:end"}, rows)
	bad = strings.Replace(bad, "2026-03-04T11:00:00Z,2026-03-04T10:00:00Z", "2026-03-04T11:00:00Z,2026-03-04T12:00:00Z", 1)
	res = f.do("admin", "POST", "/bookings/import", bad, "text/csv")
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	rows = map[int]string{}
	for _, r := range res.Err.Rows {
		rows[r.Row] = r.Code + ":" + r.Field
	}
	require.Equal(t, map[int]string{2: "booking_overlap:start", 4: "booking_overlap:start"}, rows)
	_, err = f.st.Booking(context.Background(), "w1")
	require.ErrorIs(t, err, store.ErrNotFound, "a rejected import stores nothing")

	// JSON rows that do not decode are reported by number.
	res = f.do("admin", "POST", "/bookings/import", `{"bookings":[
		{"id":"x1","member_id":"n1","center_id":"c1","start":"2026-03-05T09:00:00Z","end":"2026-03-05T10:00:00Z","status":"confirmed"},
		{"id":"x2","member_id":"n1","center_id":"c1","start":"soon","end":"2026-03-05T10:00:00Z","status":"confirmed"},
		{"id":"x3","member_id":"n1","center_id":"c1","start":"2026-03-05T09:00:00Z","end":"2026-03-05T10:00:00Z","status":"confirmed","price":3}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	rows = map[int]string{}
	for _, r := range res.Err.Rows {
		rows[r.Row] = r.Code + ":" + r.Field
	}
	require.Equal(t, map[int]string{2: "invalid:", 3: "unknown_field:price"}, rows)

	for _, tc := range []struct {
		name, body, ct string
		status         int
		code           string
	}{
		{"unknown column", "id,member_id,center_id,start,end,colour\n", "text/csv", 400, "unknown_field"},
		{"missing column", "id,member_id,center_id,start\n", "text/csv", 400, "invalid"},
		{"header only", "id,member_id,center_id,start,end\n", "text/csv", 400, "invalid"},
		{"broken quotes", "id,member_id,center_id,start,end\n\"x,y\n", "text/csv", 400, "malformed_csv"},
		{"empty JSON list", `{"bookings":[]}`, "application/json", 400, "invalid"},
		{"unknown JSON field", `{"bookings":[],"dry_run":true}`, "application/json", 400, "unknown_field"},
		{"not a list", `{"bookings":{}}`, "application/json", 400, "invalid"},
		{"wrong media type", "x", "text/plain", 415, "unsupported_media_type"},
		{"too large", "id,member_id,center_id,start,end\n" + strings.Repeat("x", 1<<20), "text/csv", 413, "body_too_large"},
	} {
		res := f.do("admin", "POST", "/bookings/import", tc.body, tc.ct)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		require.Equal(t, tc.code, res.Err.Code, tc.name)
	}
}

func TestTokensAndSecrets(t *testing.T) {
	f := newFixture(t)
	res := f.do("admin", "POST", "/tokens", map[string]any{"name": "c2 manager", "role": "manager", "centers": []string{"c2"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var ts struct {
		Token  store.Token `json:"token"`
		Secret string      `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &ts))
	require.True(t, strings.HasPrefix(ts.Secret, api.TokenPrefix))
	require.Equal(t, t0.UnixMilli(), ts.Token.CreatedMs)
	f.tokens["mgr2"] = ts.Secret
	require.Equal(t, []string{"d2"}, field(f.items("mgr2", "/doors"), "id"))
	require.NotContains(t, string(f.do("admin", "GET", "/tokens", nil).Body), ts.Secret, "a secret is sent once")

	res = f.do("admin", "POST", "/tokens", map[string]any{"name": "bad", "role": "manager", "centers": []string{"c1", "c2"}})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "centers", res.Err.Field)
	res = f.do("admin", "POST", "/tokens", map[string]any{"name": "bad", "role": "root"})
	require.Equal(t, "role", res.Err.Field)

	require.Equal(t, http.StatusNoContent, f.do("admin", "DELETE", "/tokens/"+ts.Token.ID, nil).Status)
	require.Equal(t, http.StatusUnauthorized, f.do("mgr2", "GET", "/doors", nil).Status, "a deleted token no longer works")

	res = f.do("tech1", "POST", "/doors/d1/secret", nil)
	require.Equal(t, http.StatusOK, res.Status)
	var ds struct{ Door, Secret string }
	require.NoError(t, json.Unmarshal(res.Body, &ds))
	require.Equal(t, "d1", ds.Door)
	require.NoError(t, f.st.AuthenticateDoor(context.Background(), "d1", ds.Secret))
	require.Equal(t, "no-store", func() string {
		req := httptest.NewRequest("POST", api.Prefix+"/doors/d1/secret", nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens["admin"])
		rec := apitest.Serve(t, f.srv, req)
		return rec.Header().Get("Cache-Control")
	}())
	require.Error(t, f.st.AuthenticateDoor(context.Background(), "d1", ds.Secret), "rotating again retires the secret")
}

func TestEventsAndSequence(t *testing.T) {
	f := newFixture(t)
	evs := []protocol.Event{
		{Seq: 2, TimeMs: t0.Add(time.Minute).UnixMilli(), Boot: "b", Kind: protocol.EventTap, UID: "11111111", Member: "m1", Reason: protocol.GrantedStaff},
		{Seq: 5, TimeMs: t0.Add(2 * time.Minute).UnixMilli(), Boot: "b", Kind: protocol.EventDoorClosed},
	}
	_, err := f.st.AppendEvents(context.Background(), "d1", t0.UnixMilli(), evs)
	require.NoError(t, err)
	res := f.do("mgr1", "GET", "/doors/d1/sequence", nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.JSONEq(t, `{"door":"d1","through":2,"max":5,"gaps":[{"from":3,"to":4}]}`, string(res.Body))

	items := f.items("mgr1", "/events?door=d1&kind=tap")
	require.Len(t, items, 1)
	require.Equal(t, "m1", items[0]["member"])
	require.Len(t, f.items("admin", "/events?member_id=m1"), 1)
	require.Len(t, f.items("admin", "/events?from=2026-03-02T09:01:00Z&to=2026-03-02T09:02:00Z"), 1)

	// Pages.
	res = f.do("admin", "GET", "/events?limit=2", nil)
	var page struct {
		Items []domain.Event `json:"items"`
		Next  string         `json:"next"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &page))
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.Next)
	res = f.do("admin", "GET", "/events?limit=2&after="+page.Next, nil)
	page.Items, page.Next = nil, ""
	require.NoError(t, json.Unmarshal(res.Body, &page))
	require.Len(t, page.Items, 2)
	require.Empty(t, page.Next)
}

// TestRoleGates calls every registered route as a technician and as a
// manager: routes outside a role's remit answer 403 before looking at
// anything, whatever the ids.
func TestRoleGates(t *testing.T) {
	f := newFixture(t)
	techAllowed := map[string]bool{
		"GET /openapi.json": true, "GET /whoami": true,
		"GET /centers": true, "GET /centers/{id}": true, "GET /rooms": true, "GET /rooms/{id}": true,
		"GET /doors": true, "GET /doors/{id}": true, "PUT /doors/{id}": true, "POST /doors/{id}/secret": true,
		"POST /doors/{id}/commands": true,
		"GET /doors/{id}/commands":  true, "GET /doors/{id}/state": true, "GET /alerts": true, "GET /alerts/{id}": true,
		"POST /doors/{id}/enrollments": true, "POST /enroll": true, "POST /badges": true,
		// the badges they added (badges.go)
		"GET /badges": true, "GET /badges/{uid}": true, "PUT /badges/{uid}": true, "DELETE /badges/{uid}": true,
		// their personalisation stations (personalisation.go)
		"POST /badges/{uid}/personalisation": true, "PUT /badges/{uid}/credential": true,
		// their own actions (audit.go)
		"GET /audit": true, "GET /audit.csv": true,
	}
	// Routes a manager may not call: the admin's, and remote door commands
	// (admins and technicians only).
	managerGated := map[string]bool{
		"POST /centers": true, "PUT /centers/{id}": true, "DELETE /centers/{id}": true,
		"POST /passes": true, "PUT /passes/{id}": true, "DELETE /passes/{id}": true,
		"GET /tokens": true, "POST /tokens": true, "DELETE /tokens/{id}": true,
		"POST /periods/{period}/close":         true,
		"POST /periods/{period}/close-through": true,
		"POST /periods/{period}/approve":       true,
		"POST /doors/{id}/commands":            true,
		"POST /badges/{uid}/personalisation":   true, // technicians' stations and admins (personalisation.go)
		"PUT /badges/{uid}/credential":         true,
		"PUT /settings":                        true,                                // network settings: admins change them
		"PUT /booking-rules":                   true, "DELETE /booking-rules": true, // the network's defaults (booking.go)
		"POST /import": true, // onboarding a region (onboarding.go)
		// billing (billing.go): the period's issue, its payouts and voids are the admins'
		"GET /billing/periods/{period}/dry-run": true, "POST /billing/periods/{period}/issue": true,
		"GET /billing/periods/{period}/payouts.xml": true, "POST /billing/documents/{issuer}/{number}/void": true,
	}
	fill := strings.NewReplacer("{id}", "x1", "{uid}", "11111111", "{member_id}", "m1", "{period}", "2026-03")
	for _, r := range f.srv.Routes() {
		key := r.Method + " " + r.Path
		path := fill.Replace(r.Path)
		res := f.do("tech1", r.Method, path, `{}`)
		gated := res.Status == http.StatusForbidden && strings.Contains(res.Err.Message, "role may not call")
		require.Equal(t, !techAllowed[key], gated, "technician %s: %s", key, res.Body)
		res = f.do("mgr1", r.Method, path, `{}`)
		gated = res.Status == http.StatusForbidden && strings.Contains(res.Err.Message, "role may not call")
		require.Equal(t, managerGated[key], gated, "manager %s: %s", key, res.Body)
	}
}

// panicky is the fixture's store with one method that panics, as a bug would.
type panicky struct{ store.Store }

func (panicky) Center(context.Context, string) (domain.Center, error) { panic("boom at 0xdeadbeef") }

func TestInternalErrorsShowNothing(t *testing.T) {
	f := newFixture(t)
	f.srv = api.New(api.Config{Store: panicky{f.st}, Logger: slog.New(slog.NewTextHandler(f.log, nil))})
	res := f.do("admin", "GET", "/centers/c1", nil)
	require.Equal(t, http.StatusInternalServerError, res.Status)
	require.Equal(t, "internal", res.Err.Code)
	require.NotContains(t, string(res.Body), "boom")
	require.NotContains(t, string(res.Body), "0xdeadbeef")
	require.Contains(t, f.log.String(), "boom", "the log has the detail")
	res = f.do("admin", "GET", "/centers", nil)
	require.Equal(t, http.StatusOK, res.Status, "the server goes on")
}
