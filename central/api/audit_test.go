package api_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/api/apitest"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

type auditPage struct {
	Items []audit.Entry `json:"items"`
	Next  string        `json:"next"`
}

func (f *fixture) audit(who, query string) auditPage {
	f.t.Helper()
	res := f.do(who, "GET", "/audit"+query, nil)
	require.Equal(f.t, http.StatusOK, res.Status, "%s", res.Body)
	var pg auditPage
	require.NoError(f.t, json.Unmarshal(res.Body, &pg))
	return pg
}

// doAs sends a request as the named token with a user agent.
func (f *fixture) doAs(who, agent, method, path string, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, api.Prefix+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.tokens[who])
	req.Header.Set("User-Agent", agent)
	rec := apitest.Serve(f.t, f.srv, req)
	return rec
}

// TestAuditRecordsCaller: a change through the API is recorded with the
// token, its role and centers, the client's address and user agent, and
// the member before and after.
func TestAuditRecordsCaller(t *testing.T) {
	f := newFixture(t)
	rec := f.doAs("mgr1", "swc-test/1.0\x01", "PUT", "/members/m1", `{"name":"Renamed","home_center_id":"c1","status":"suspended"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	pg := f.audit("admin", "?object_kind=member&object_id=m1")
	require.NotEmpty(t, pg.Items)
	got := pg.Items[0]
	require.Equal(t, audit.Actor{Kind: audit.KindAPIToken, ID: "mgr1", Name: "manager c1", Role: "manager", Centers: []string{"c1"},
		IP: "192.0.2.1", UserAgent: "swc-test/1.0"}, got.Actor)
	require.Equal(t, audit.Update, got.Action)
	require.Equal(t, []string{"c1"}, got.Centers)
	require.Contains(t, string(got.Before), `"name":"local"`)
	require.Contains(t, string(got.After), `"status":"suspended"`)
}

// TestAuditScope: admin sees every row; a manager only the rows of their
// center, another center's being invisible; a technician only their own
// actions.
func TestAuditScope(t *testing.T) {
	f := newFixture(t)
	for _, r := range []struct{ who, path, body string }{
		{"admin", "/members/m2", `{"name":"Bob","home_center_id":"c2","status":"active"}`},
		{"mgr1", "/members/m1", `{"name":"Ann","home_center_id":"c1","status":"active"}`},
		{"tech1", "/doors/d1", `{"center_id":"c1","name":"Front door"}`},
	} {
		rec := f.doAs(r.who, "t", "PUT", r.path, r.body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	ids := func(pg auditPage) []string {
		out := []string{}
		for _, e := range pg.Items {
			if e.Actor.Kind == audit.KindAPIToken {
				out = append(out, e.Actor.ID+":"+e.ObjectID)
			}
		}
		return out
	}
	for _, tc := range []struct {
		who, query string
		want       []string
	}{
		{"admin", "", []string{"tech1:d1", "mgr1:m1", "admin:m2"}},
		{"admin", "?center_id=c2", []string{"admin:m2"}},
		{"mgr1", "", []string{"tech1:d1", "mgr1:m1"}},
		{"mgr1", "?center_id=c2", []string{}},
		{"mgr1", "?actor_id=admin", []string{}},
		{"mgr1", "?object_kind=member&object_id=m2", []string{}},
		{"tech1", "", []string{"tech1:d1"}},
		{"tech1", "?actor_id=mgr1", []string{}},
		{"tech1", "?actor_kind=system", []string{}},
	} {
		pg := f.audit(tc.who, tc.query)
		require.Equal(t, tc.want, ids(pg), "%s %s", tc.who, tc.query)
		for _, e := range pg.Items {
			switch tc.who {
			case "mgr1":
				require.Contains(t, e.Centers, "c1", "a manager sees only their center's rows")
			case "tech1":
				require.Equal(t, "tech1", e.Actor.ID)
			}
		}
	}
	// A manager's unfiltered view has no row of c2 only, system rows included.
	all := f.audit("mgr1", "?limit=1000")
	require.True(t, slices.ContainsFunc(all.Items, func(e audit.Entry) bool { return e.Actor.Kind == audit.KindSystem }))
	for _, e := range all.Items {
		require.Contains(t, e.Centers, "c1")
	}
}

// TestAuditBadFilters: every bad parameter is refused, naming it.
func TestAuditBadFilters(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ query, field string }{
		{"?actor_kind=robot", "actor_kind"},
		{"?action=DROP%20TABLE", "action"},
		{"?object_kind=a-b", "object_kind"},
		{"?object_id=" + strings.Repeat("x", 201), "object_id"},
		{"?actor_id=a%0Ab", "actor_id"},
		{"?from=yesterday", "from"},
		{"?center_id=../c1", "center_id"},
		{"?after=x", "after"},
		{"?format=xml", "format"},
		{"?limit=0", "limit"},
		{"?colour=red", "colour"},
	} {
		for _, path := range []string{"/audit", "/audit.csv"} {
			if tc.field == "format" && path == "/audit.csv" {
				continue
			}
			res := f.do("admin", "GET", path+tc.query, nil)
			require.Equal(t, http.StatusBadRequest, res.Status, "%s%s: %s", path, tc.query, res.Body)
			require.Equal(t, tc.field, res.Err.Field, "%s%s", path, tc.query)
		}
	}
}

// TestAuditCSV: the export is CSV that reads back whole (commas, quotes
// and newlines in cells), with formula-like cells neutralized, and only
// the rows the caller may see.
func TestAuditCSV(t *testing.T) {
	f := newFixture(t)
	for _, agent := range []string{"=HYPERLINK(\"http://evil\")", "+1", "-2+3", "@SUM(A1)", "plain, \"quoted\""} {
		rec := f.doAs("mgr1", agent, "PUT", "/members/m1", `{"name":"Ann, \"the\" first","home_center_id":"c1","status":"active"}`)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	}
	rec := f.doAs("admin", "x", "PUT", "/members/m2", `{"name":"Other","home_center_id":"c2","status":"active"}`)
	require.Equal(t, http.StatusOK, rec.Code)

	for _, path := range []string{"/audit.csv?actor_id=mgr1", "/audit?format=csv&actor_id=mgr1"} {
		for _, who := range []string{"admin", "mgr1"} {
			res := f.do(who, "GET", path, nil)
			require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
			rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
			require.NoError(t, err)
			require.Equal(t, []string{"id", "at", "actor_kind", "actor_id", "actor_name", "actor_role", "actor_ip", "actor_user_agent",
				"action", "object_kind", "object_id", "centers", "before", "after"}, rows[0])
			require.Len(t, rows, 6, "header and five changes")
			agents := []string{}
			for _, r := range rows[1:] {
				agents = append(agents, r[7])
				require.Equal(t, "m1", r[10])
				var after map[string]any
				require.NoError(t, json.Unmarshal([]byte(r[13]), &after), "after is JSON: %s", r[13])
				require.Equal(t, `Ann, "the" first`, after["name"])
			}
			require.Equal(t, []string{`plain, "quoted"`, "'@SUM(A1)", "'-2+3", "'+1", `'=HYPERLINK("http://evil")`}, agents)
		}
	}
	// mgr1 never gets c2's rows in an export.
	res := f.do("mgr1", "GET", "/audit.csv?limit=1000", nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.NotContains(t, string(res.Body), "Other")
	res = f.do("admin", "GET", "/audit.csv", nil)
	require.Contains(t, string(res.Body), "Other")
	// Paged export: limit gives one page.
	res = f.do("admin", "GET", "/audit.csv?limit=2", nil)
	rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
}

// TestAuditEnrollment: the technician who asked for an enrollment token and
// the door that spent it (the system's enrollment, from the door's
// address) are both in the door's center's log, without the token.
func TestAuditEnrollment(t *testing.T) {
	f := newFixture(t)
	withEnroll(t, f)
	res := f.do("tech1", "POST", "/doors/d1/enrollments", map[string]any{"ttl_minutes": 60})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var tok enroll.Token
	require.NoError(t, json.Unmarshal(res.Body, &tok))
	res = f.do("", "POST", "/enroll", mustJSON(t, protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: newCSR(t)}))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)

	pg := f.audit("mgr1", "?object_kind=enrollment_token")
	require.Len(t, pg.Items, 2)
	redeem, create := pg.Items[0], pg.Items[1]
	require.Equal(t, audit.Redeem, redeem.Action)
	require.Equal(t, audit.KindSystem, redeem.Actor.Kind)
	require.Equal(t, "enrollment", redeem.Actor.ID)
	require.Equal(t, "192.0.2.1", redeem.Actor.IP)
	require.Equal(t, audit.Create, create.Action)
	require.Equal(t, "tech1", create.Actor.ID)
	require.Equal(t, []string{"c1"}, create.Centers)
	all := f.do("admin", "GET", "/audit.csv", nil)
	require.NotContains(t, string(all.Body), tok.Secret)
	require.Empty(t, f.audit("mgr1", "?center_id=c2&object_kind=enrollment_token").Items)
}

// TestActorOf: a staff account's principal is logged as the staff account
// (its id without the prefix), an API token as the token, so a
// technician's "own actions" filter finds what either did.
func TestActorOf(t *testing.T) {
	for _, c := range []struct {
		id   string
		kind audit.ActorKind
		want string
	}{
		{"tech1", audit.KindAPIToken, "tech1"},
		{store.StaffPrincipalPrefix + "sa-0123", audit.KindStaffAccount, "sa-0123"},
		{"staffer", audit.KindAPIToken, "staffer"},
	} {
		kind, id := api.ActorOf(store.Token{ID: c.id, Role: store.RoleTechnician})
		require.Equal(t, c.kind, kind, c.id)
		require.Equal(t, c.want, id, c.id)
	}
}
