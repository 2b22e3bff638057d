package apitest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/api/apitest"
)

// answer is a canned response.
type answer struct {
	code int
	body string
}

var center = `{"id":"c1","name":"Gent","time_zone":"Europe/Brussels"}`

// bites are exchanges the check must refuse (says: part of its error) or
// pass (says empty), for the token API and the member API.
var bites = []struct {
	name, method, path, body string
	answer                   answer
	says                     string
}{
	{"body off its schema", "GET", "/centers/c1", "", answer{200, `{"id":5}`}, "doesn't match schema"},
	{"undocumented status", "GET", "/centers/c1", "", answer{418, `{"code":"teapot","message":"no"}`}, "status is not supported"},
	{"error body off its schema", "GET", "/centers/c1", "", answer{404, `{"error":"gone"}`}, "doesn't match schema"},
	{"invalid request served", "POST", "/centers", `{"name":5}`, answer{201, center}, "says the request is invalid"},
	{"undocumented route served", "GET", "/nowhere", "", answer{200, `{}`}, "is not in openapi.json"},
	{"undocumented method served", "PATCH", "/centers/c1", `{}`, answer{200, center}, "is not in openapi.json"},
	{"undocumented route refused", "GET", "/nowhere", "", answer{404, `{"code":"not_found","message":"no"}`}, ""},
	{"true exchange", "GET", "/centers/c1", "", answer{200, center}, ""},
	{"member: body off its schema", "GET", "/me", "", answer{200, `{"id":"n1"}`}, "doesn't match schema"},
	{"member: undocumented status", "GET", "/me/bookings", "", answer{409, `{"code":"x","message":"y"}`}, "status is not supported"},
	{"member: write without CSRF served", "POST", "/me/bookings/cancel-range", `{"from":"2026-03-02T00:00:00Z","to":"2026-03-03T00:00:00Z"}`,
		answer{200, `{"cancelled":[]}`}, "says the request is invalid"},
	{"member: write without CSRF refused", "POST", "/me/bookings/cancel-range", `{"from":"2026-03-02T00:00:00Z","to":"2026-03-03T00:00:00Z"}`,
		answer{403, `{"code":"csrf","field":"X-CSRF-Token","message":"no"}`}, ""},
	{"member: true exchange", "GET", "/me", "", answer{200, `{"id":"n1","name":"Nora","status":"active"}`}, ""},
}

// TestCheckBites: Start and Finish refuse a body off its schema, an
// undocumented status, a success for an invalid request and an
// undocumented route or method, and pass a true exchange.
func TestCheckBites(t *testing.T) {
	for _, tc := range bites {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			req := httptest.NewRequest(tc.method, api.Prefix+tc.path, rd)
			if rd != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			e, err := apitest.Start(req)
			require.NoError(t, err)
			if rd != nil {
				b, err := io.ReadAll(req.Body)
				require.NoError(t, err)
				require.Equal(t, tc.body, string(b), "the body is put back for the server")
			}
			err = e.Finish(tc.answer.code, http.Header{"Content-Type": {"application/json"}}, []byte(tc.answer.body))
			if tc.says == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.says)
		})
	}
}

// TestTransportBites: the Transport makes the same refusals the client's
// error, and hands a true exchange's body to the client; paths outside the
// API are not checked.
func TestTransportBites(t *testing.T) {
	var now answer
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(now.code)
		_, _ = io.WriteString(rw, now.body)
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: apitest.Transport{}}
	send := func(method, path, body string) (string, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, srv.URL+path, rd)
		require.NoError(t, err)
		if rd != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return string(b), nil
	}
	for _, tc := range bites {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.answer
			got, err := send(tc.method, api.Prefix+tc.path, tc.body)
			if tc.says == "" {
				require.NoError(t, err)
				require.Equal(t, tc.answer.body, got)
				return
			}
			require.ErrorContains(t, err, tc.says)
		})
	}
	t.Run("outside the API", func(t *testing.T) {
		now = answer{200, "<html>"}
		got, err := send("GET", "/my/bookings", "")
		require.NoError(t, err)
		require.Equal(t, "<html>", got)
	})
}
