package web_test

import (
	"cmp"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/web"
)

// apiCall sends a member API request with the session cookie and, when
// csrf is set, the CSRF header; it decodes the JSON answer. The exchange
// must match openapi.json.
func (s *site) apiCall(method, path, lang, body string, csrf bool) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	require.NoError(s.t, err)
	if body != "" {
		req.Header.Set("Content-Type", cmp.Or(s.contentType, "application/json"))
	}
	req.AddCookie(&http.Cookie{Name: "swc_session", Value: s.cookie})
	if csrf {
		req.Header.Set(web.CSRFHeader, s.csrf)
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	res, err := checkedClient().Do(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	require.Equal(s.t, "application/json", res.Header.Get("Content-Type"), string(b))
	var out map[string]any
	require.NoError(s.t, json.Unmarshal(b, &out), string(b))
	return res.StatusCode, out
}

// TestSiteMemberAPI: the member-facing API books, lists, changes and
// cancels the session's member's bookings; writes need the CSRF header;
// refusals have the API's shape with the message in the member's
// language; another member's booking is unknown; no session is 401.
func TestSiteMemberAPI(t *testing.T) {
	s := newSite(t, nil)
	day := tuesday()
	at := func(d time.Time, h int) string { return d.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }

	code, me := s.apiCall("GET", "/api/v1/me", "", "", false)
	require.Equal(t, 200, code)
	require.Equal(t, "n1", me["id"])

	code, av := s.apiCall("GET", "/api/v1/me/availability?start="+url.QueryEscape(at(day, 9))+"&end="+url.QueryEscape(at(day, 17))+"&center_id=c1", "", "", false)
	require.Equal(t, 200, code, av)
	require.Len(t, av["items"], 1)

	book := `{"center_id":"c1","start":"` + at(day, 9) + `","end":"` + at(day, 17) + `"}`
	code, out := s.apiCall("POST", "/api/v1/me/bookings", "", book, false)
	require.Equal(t, http.StatusForbidden, code, "a write without the CSRF header")
	require.Equal(t, "csrf", out["code"])
	code, out = s.apiCall("POST", "/api/v1/me/bookings", "", book, true)
	require.Equal(t, http.StatusCreated, code, out)
	id := out["id"].(string)
	require.Equal(t, "n1", out["member_id"])

	// The last desk again: refused, in French, naming the field.
	code, out = s.apiCall("POST", "/api/v1/me/bookings", "fr-BE", book, true)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, map[string]any{"code": "no_desk_left", "field": "start",
		"message": "Tous les bureaux sont pris à un moment de ce créneau. (De)"}, out)
	for _, tc := range []struct {
		name, body, code, field string
		status                  int
	}{
		{"bad time", `{"center_id":"c2","start":"tuesday","end":"` + at(day, 17) + `"}`, "invalid", "start", 400},
		{"unknown field", `{"centre":"c2"}`, "invalid", "body", 400},
		{"outside hours", `{"center_id":"c2","start":"` + at(day, 6) + `","end":"` + at(day, 9) + `"}`, "outside_opening_hours", "start", 422},
		{"unknown center", `{"center_id":"zz","start":"` + at(day, 9) + `","end":"` + at(day, 10) + `"}`, "unknown_center", "center_id", 404},
		{"count on a single booking", `{"center_id":"c2","start":"` + at(day, 9) + `","end":"` + at(day, 10) + `","count":2}`, "invalid", "count", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &site{t: t, st: s.st, srv: s.srv, cookie: s.cookie, csrf: s.csrf}
			code, out := s.apiCall("POST", "/api/v1/me/bookings", "en", tc.body, true)
			require.Equal(t, tc.status, code, out)
			require.Equal(t, tc.code, out["code"])
			require.Equal(t, tc.field, out["field"])
			require.NotContains(t, out["message"], "⟦")
		})
	}

	code, out = s.apiCall("POST", "/api/v1/me/bookings/recurring", "", `{"center_id":"c2","start":"`+at(day, 9)+`","end":"`+at(day, 12)+`","count":3,"every_weeks":1}`, true)
	require.Equal(t, http.StatusCreated, code, out)
	require.EqualValues(t, 3, out["made"])

	code, out = s.apiCall("PUT", "/api/v1/me/bookings/"+id, "", `{"start":"`+at(day, 10)+`","end":"`+at(day, 16)+`"}`, true)
	require.Equal(t, 200, code, out)
	code, out = s.apiCall("GET", "/api/v1/me/bookings", "", "", false)
	require.Equal(t, 200, code)
	require.Len(t, out["items"], 4)

	// Bert does not see Nora's booking.
	other, csrf := memberSession(t, s.st, "m2")
	bert := &site{t: t, st: s.st, srv: s.srv, cookie: other, csrf: csrf}
	code, out = bert.apiCall("POST", "/api/v1/me/bookings/"+id+"/cancel", "", "", true)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "unknown_booking", out["code"])

	code, out = s.apiCall("POST", "/api/v1/me/bookings/"+id+"/cancel", "", "", true)
	require.Equal(t, 200, code, out)
	require.Equal(t, "cancelled", out["status"])
	code, out = s.apiCall("POST", "/api/v1/me/bookings/cancel-range", "", `{"from":"`+at(day, 0)+`","to":"`+at(day.AddDate(0, 0, 8), 0)+`"}`, true)
	require.Equal(t, 200, code, out)
	require.Len(t, out["cancelled"], 2)

	s.cookie = "nobody"
	code, out = s.apiCall("GET", "/api/v1/me/bookings", "", "", false)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Equal(t, "unauthorized", out["code"])
}

// TestMeAPIMounted: swc-central serves the member API at /api/v1/me with
// the member's session, beside the token API.
func TestMeAPIMounted(t *testing.T) {
	n := startNetwork(t)
	cookie, csrf := memberSession(t, n.srv.Store, "n1")
	s := &site{t: t, st: n.srv.Store, srv: &httptest.Server{URL: n.base}, cookie: cookie, csrf: csrf}
	code, me := s.apiCall("GET", "/api/v1/me", "", "", false)
	require.Equal(t, 200, code, me)
	require.Equal(t, "Nora Nomad", me["name"])
	code, out := s.apiCall("GET", "/api/v1/me/bookings", "", "", false)
	require.Equal(t, 200, code, out)
	require.Empty(t, out["items"])
	s.cookie = "nobody"
	code, out = s.apiCall("GET", "/api/v1/me", "", "", false)
	require.Equal(t, http.StatusUnauthorized, code, out)
	code, _ = n.apiAs("admin", "GET", "/members/n1/bookings", nil)
	require.Equal(t, 200, code, "the token API is still there")
}

// TestMemberAPIDocumented: every /me operation of the OpenAPI document is
// routed to the member API here (a request without a session is answered
// 401 in the API's JSON shape, not 404 or 405).
func TestMemberAPIDocumented(t *testing.T) {
	s := newSite(t, nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(api.OpenAPI(), &doc))
	s.cookie = "nobody"
	n := 0
	for path, ops := range doc.Paths {
		if path != "/me" && !strings.HasPrefix(path, "/me/") {
			continue
		}
		for method := range ops {
			code, out := s.apiCall(strings.ToUpper(method), api.Prefix+strings.ReplaceAll(path, "{booking_id}", "bk1"), "", "{}", true)
			require.Equal(t, http.StatusUnauthorized, code, "%s %s: %v", method, path, out)
			n++
		}
	}
	require.Equal(t, 10, n)
}

// TestMemberAPIRefusals: every refusal of every member API operation,
// each answered with a status and body openapi.json documents (apiCall
// checks the exchange).
func TestMemberAPIRefusals(t *testing.T) {
	s := newSite(t, nil)
	day := tuesday()
	at := func(d time.Time, h int) string { return d.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	span := func(start, end string) string { return `"start":"` + start + `","end":"` + end + `"` }
	book := func(s *site, center string, from, to int) string {
		t.Helper()
		code, out := s.apiCall("POST", "/api/v1/me/bookings", "", `{"center_id":"`+center+`",`+span(at(day, from), at(day, to))+`}`, true)
		require.Equal(t, http.StatusCreated, code, out)
		return out["id"].(string)
	}
	mine := book(s, "c1", 9, 10)
	other, csrf := memberSession(t, s.st, "m2")
	book(&site{t: t, st: s.st, srv: s.srv, cookie: other, csrf: csrf}, "c1", 11, 12) // c1's one desk, 11–12
	gone := book(s, "c2", 13, 14)
	code, out := s.apiCall("POST", "/api/v1/me/bookings/"+gone+"/cancel", "", "", true)
	require.Equal(t, http.StatusOK, code, out)
	q := url.QueryEscape

	for _, tc := range []struct {
		name, method, path, contentType, body string
		status                                int
		code, field                           string
	}{
		{"availability: no end", "GET", "/availability?start=" + q(at(day, 9)), "", "", 400, "invalid", "end"},
		{"availability: end before start", "GET", "/availability?start=" + q(at(day, 9)) + "&end=" + q(at(day, 8)), "", "", 400, "invalid", "end"},
		{"availability: over 31 days", "GET", "/availability?start=" + q(at(day, 9)) + "&end=" + q(at(day.AddDate(0, 0, 40), 9)), "", "", 400, "invalid", "end"},
		{"availability: people 0", "GET", "/availability?start=" + q(at(day, 9)) + "&end=" + q(at(day, 10)) + "&people=0", "", "", 400, "invalid", "people"},
		{"availability: bad kind", "GET", "/availability?start=" + q(at(day, 9)) + "&end=" + q(at(day, 10)) + "&kind=sofa", "", "", 400, "invalid", "kind"},
		{"availability: unknown center", "GET", "/availability?start=" + q(at(day, 9)) + "&end=" + q(at(day, 10)) + "&center_id=zz", "", "", 404, "unknown_center", "center_id"},
		{"bookings: bad from", "GET", "/bookings?from=monday", "", "", 400, "invalid", "from"},
		{"bookings: to before from", "GET", "/bookings?from=" + q(at(day, 9)) + "&to=" + q(at(day, 8)), "", "", 400, "invalid", "to"},
		{"book: not JSON", "POST", "/bookings", "text/plain", `{"center_id":"c2",` + span(at(day, 9), at(day, 10)) + `}`, 415, "unsupported_media_type", "Content-Type"},
		{"book: body too large", "POST", "/bookings", "", `{"center_id":"` + strings.Repeat("c", 70<<10) + `"}`, 413, "body_too_large", "body"},
		{"book: malformed JSON", "POST", "/bookings", "", `{"center_id":`, 400, "invalid", "body"},
		{"book: room taken", "POST", "/bookings", "", `{"center_id":"c1","room_id":"r1",` + span(at(day, 9), at(day, 10)) + `}`, 201, "", ""},
		{"book: room taken again", "POST", "/bookings", "", `{"center_id":"c1","room_id":"r1",` + span(at(day, 9), at(day, 10)) + `}`, 409, "room_taken", "room_id"},
		{"book: unknown room", "POST", "/bookings", "", `{"center_id":"c1","room_id":"r9",` + span(at(day, 9), at(day, 10)) + `}`, 404, "unknown_room", "room_id"},
		{"book: room too small", "POST", "/bookings", "", `{"center_id":"c1","room_id":"r1","people":9,` + span(at(day, 14), at(day, 15)) + `}`, 422, "room_too_small", "people"},
		{"recurring: no date bookable", "POST", "/bookings/recurring", "", `{"center_id":"c2",` + span(at(day, 5), at(day, 7)) + `,"count":2,"every_weeks":1}`, 422, "", ""},
		{"recurring: unknown center", "POST", "/bookings/recurring", "", `{"center_id":"zz",` + span(at(day, 9), at(day, 10)) + `,"count":2,"every_weeks":1}`, 404, "unknown_center", "center_id"},
		{"recurring: count 0", "POST", "/bookings/recurring", "", `{"center_id":"c2",` + span(at(day, 9), at(day, 10)) + `,"count":0}`, 400, "invalid", "count"},
		{"recurring: not JSON", "POST", "/bookings/recurring", "text/plain", `{}`, 415, "unsupported_media_type", "Content-Type"},
		{"cancel-range: to before from", "POST", "/bookings/cancel-range", "", `{"from":"` + at(day, 9) + `","to":"` + at(day, 8) + `"}`, 400, "invalid", "to"},
		{"cancel-range: no from", "POST", "/bookings/cancel-range", "", `{"to":"` + at(day, 8) + `"}`, 400, "invalid", "from"},
		{"cancel-range: not JSON", "POST", "/bookings/cancel-range", "text/plain", `{}`, 415, "unsupported_media_type", "Content-Type"},
		{"change: unknown booking", "PUT", "/bookings/nope", "", `{` + span(at(day, 9), at(day, 10)) + `}`, 404, "unknown_booking", "id"},
		{"change: onto the last desk", "PUT", "/bookings/" + mine, "", `{` + span(at(day, 11), at(day, 12)) + `}`, 409, "no_desk_left", "start"},
		{"change: outside hours", "PUT", "/bookings/" + mine, "", `{` + span(at(day, 6), at(day, 9)) + `}`, 422, "outside_opening_hours", "start"},
		{"change: cancelled", "PUT", "/bookings/" + gone, "", `{` + span(at(day, 9), at(day, 10)) + `}`, 422, "already_cancelled", "id"},
		{"change: bad time", "PUT", "/bookings/" + mine, "", `{"start":"9h","end":"` + at(day, 10) + `"}`, 400, "invalid", "start"},
		{"change: not JSON", "PUT", "/bookings/" + mine, "text/plain", `{}`, 415, "unsupported_media_type", "Content-Type"},
		{"cancel: unknown booking", "POST", "/bookings/nope/cancel", "", "", 404, "unknown_booking", "id"},
		{"cancel: cancelled", "POST", "/bookings/" + gone + "/cancel", "", "", 422, "already_cancelled", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &site{t: t, st: s.st, srv: s.srv, cookie: s.cookie, csrf: s.csrf, contentType: tc.contentType}
			code, out := s.apiCall(tc.method, "/api/v1/me"+tc.path, "en", tc.body, true)
			require.Equal(t, tc.status, code, out)
			if tc.code != "" {
				require.Equal(t, tc.code, out["code"], out)
				require.Equal(t, tc.field, out["field"], out)
			}
		})
	}
}
