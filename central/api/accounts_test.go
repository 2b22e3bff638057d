package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/accounts"
	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/store"
)

// TestAccountsAPI: admins invite anyone; managers invite managers and
// technicians of their own center only (another center is a missing
// one, an admin is forbidden), list and change only their center's
// accounts; technicians manage none; no secret is ever answered; every
// change is in the audit log as the token's.
func TestAccountsAPI(t *testing.T) {
	f := newFixture(t)
	svc, err := accounts.NewService(accounts.Config{Store: f.st, Params: accounts.TestParams()})
	require.NoError(t, err)
	f.srv = api.New(api.Config{Store: f.st, Accounts: svc})

	for _, c := range []struct {
		name, who string
		body      any
		status    int
		code      string
		field     string
	}{
		{"admin invites an admin", "admin", map[string]any{"email": "Ann@Example.org", "name": "Ann", "role": "admin"}, 201, "", ""},
		{"admin invites a manager of c2", "admin", map[string]any{"email": "bob@example.org", "name": "Bob", "role": "manager", "centers": []string{"c2"}}, 201, "", ""},
		{"manager invites a technician of c1", "mgr1", map[string]any{"email": "cy@example.org", "name": "Cy", "role": "technician", "centers": []string{"c1"}}, 201, "", ""},
		{"manager invites an admin", "mgr1", map[string]any{"email": "x@example.org", "name": "X", "role": "admin"}, 403, "forbidden", "role"},
		{"manager invites for c2", "mgr1", map[string]any{"email": "x@example.org", "name": "X", "role": "manager", "centers": []string{"c2"}}, 422, "missing_ref", "centers[0]"},
		{"technician invites", "tech1", map[string]any{"email": "x@example.org", "name": "X", "role": "technician", "centers": []string{"c1"}}, 403, "forbidden", ""},
		{"same e-mail", "admin", map[string]any{"email": "ann@example.org", "name": "Ann", "role": "admin"}, 409, "exists", "email"},
		{"bad e-mail", "admin", map[string]any{"email": "ann", "name": "Ann", "role": "admin"}, 400, "invalid", "email"},
		{"unknown field", "admin", map[string]any{"email": "z@example.org", "name": "Z", "role": "admin", "password": "x"}, 400, "unknown_field", "password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := f.do(c.who, "POST", "/accounts", c.body)
			require.Equal(t, c.status, res.Status, "%s", res.Body)
			require.Equal(t, c.code, res.Err.Code)
			require.Equal(t, c.field, res.Err.Field)
			require.NotContains(t, string(res.Body), "invite/", "the link goes by e-mail only")
		})
	}
	all := f.items("admin", "/accounts")
	require.Len(t, all, 3)
	mine := f.items("mgr1", "/accounts")
	require.Len(t, mine, 1)
	require.Equal(t, "cy@example.org", mine[0]["email"])
	require.Equal(t, "invited", mine[0]["status"])
	for _, a := range all {
		for _, k := range []string{"password_hash", "totp_secret", "recovery_hashes"} {
			require.NotContains(t, a, k)
		}
	}
	res := f.do("tech1", "GET", "/accounts", nil)
	require.Equal(t, http.StatusForbidden, res.Status)

	var bob, cy string
	for _, a := range all {
		switch a["email"] {
		case "bob@example.org":
			bob = a["id"].(string)
		case "cy@example.org":
			cy = a["id"].(string)
		}
	}
	res = f.do("mgr1", "GET", "/accounts/"+bob, nil)
	require.Equal(t, http.StatusNotFound, res.Status, "another center's account is answered as missing")
	res = f.do("mgr1", "PUT", "/accounts/"+bob, map[string]any{"status": "disabled"})
	require.Equal(t, http.StatusNotFound, res.Status)
	res = f.do("mgr1", "PUT", "/accounts/"+cy, map[string]any{"role": "admin"})
	require.Equal(t, http.StatusForbidden, res.Status)
	res = f.do("mgr1", "PUT", "/accounts/"+cy, map[string]any{"status": "disabled"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var got store.StaffAccount
	require.NoError(t, json.Unmarshal(res.Body, &got))
	require.Equal(t, store.AccountDisabled, got.Status)

	entries, err := f.st.ListAudit(t.Context(), store.AuditFilter{ObjectKind: "staff_account", ObjectID: cy})
	require.NoError(t, err)
	require.Len(t, entries.Items, 2, "created, then disabled")
	require.Equal(t, audit.KindAPIToken, entries.Items[0].Actor.Kind)
	require.Equal(t, "mgr1", entries.Items[0].Actor.ID)
	require.Equal(t, []string{"c1"}, entries.Items[0].Centers)

	// A token may not take the staff principals' prefix.
	res = f.do("admin", "POST", "/tokens", map[string]any{"id": "staff.x", "name": "x", "role": "admin"})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "id", res.Err.Field)
}
