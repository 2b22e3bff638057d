package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
)

// TestTechnicianBadges: a technician enrolls badges only for members whose
// rights they could grant themselves (members of their centers who are no
// staff anywhere), and sees and revokes every badge they added; the
// center's manager sees them too, with who added them. A manager cannot
// attach a badge to staff rights they could not grant (network staff, or
// staff of another center).
func TestTechnicianBadges(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// m1 is staff of c1 (the fixture's); m3 a plain member of c1; m4 a
	// member of c1 who is network staff (every door, at any hour).
	require.NoError(t, f.st.CreateMember(ctx, domain.Member{ID: "m3", Name: "plain", HomeCenterID: "c1", Status: domain.MemberActive}))
	require.NoError(t, f.st.CreateMember(ctx, domain.Member{ID: "m4", Name: "network staff", HomeCenterID: "c1", Status: domain.MemberActive}))
	require.NoError(t, f.st.AddStaff(ctx, domain.Staff{MemberID: "m4"}))

	for _, tc := range []struct {
		who, member string
		status      int
		code        string
	}{
		{"tech1", "m4", http.StatusForbidden, "forbidden"}, // network staff
		{"tech1", "m1", http.StatusForbidden, "forbidden"}, // staff of the technician's own center
		{"mgr1", "m4", http.StatusForbidden, "forbidden"},  // network staff is the cooperative's
		{"tech1", "m2", http.StatusUnprocessableEntity, "missing_ref"},
		{"tech1", "n1", http.StatusUnprocessableEntity, "missing_ref"},
	} {
		res := f.do(tc.who, "POST", "/badges", domain.Badge{UID: "0A0B0C0D", MemberID: tc.member})
		require.Equal(t, tc.status, res.Status, "%s for %s: %s", tc.who, tc.member, res.Body)
		require.Equal(t, tc.code, res.Err.Code, "%s for %s", tc.who, tc.member)
		_, err := f.st.Badge(ctx, "0A0B0C0D")
		require.Error(t, err, "no badge was attached to %s", tc.member)
	}
	res := f.do("tech1", "PUT", "/badges/11111111", domain.Badge{UID: "11111111", MemberID: "m3"})
	require.Equal(t, http.StatusNotFound, res.Status, "a badge the technician did not add is not theirs to move: %s", res.Body)

	// The technician enrolls a plain member's badge: it is recorded as
	// theirs, whatever the body says.
	res = f.do("tech1", "POST", "/badges", map[string]any{"uid": "0A0B0C0D", "member_id": "m3", "added_by": "admin"})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var b domain.Badge
	require.NoError(t, json.Unmarshal(res.Body, &b))
	require.Equal(t, "tech1", b.AddedBy)
	res = f.do("mgr1", "POST", "/badges", domain.Badge{UID: "0A0B0C0E", MemberID: "m1"})
	require.Equal(t, http.StatusCreated, res.Status, "the manager may: m1 is staff of their center: %s", res.Body)

	// The technician sees what they added, and only that, in their
	// centers (a badge of another center recorded under their token id,
	// as an earlier token of that id would have left it, stays hidden).
	require.NoError(t, f.st.CreateBadge(ctx, domain.Badge{UID: "0A0B0C0F", MemberID: "m2", AddedBy: "tech1"}))
	require.Equal(t, []string{"0A0B0C0D"}, field(f.items("tech1", "/badges"), "uid"))
	require.Equal(t, http.StatusNotFound, f.do("tech1", "GET", "/badges/0A0B0C0F", nil).Status)
	require.Equal(t, http.StatusOK, f.do("tech1", "GET", "/badges/0A0B0C0D", nil).Status)
	require.Equal(t, http.StatusNotFound, f.do("tech1", "GET", "/badges/11111111", nil).Status)
	require.Equal(t, http.StatusNotFound, f.do("tech1", "DELETE", "/badges/0A0B0C0E", nil).Status)
	// The manager sees it, with who added it.
	items := f.items("mgr1", "/badges?added_by=tech1")
	require.Equal(t, []string{"0A0B0C0D"}, field(items, "uid"))
	require.Equal(t, []string{"tech1"}, field(items, "added_by"))
	require.Contains(t, field(f.items("mgr1", "/badges"), "uid"), "0A0B0C0D")

	// The technician revokes it, cannot hand it to staff, and removes it.
	res = f.do("tech1", "PUT", "/badges/0A0B0C0D", domain.Badge{UID: "0A0B0C0D", MemberID: "m1"})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Body)
	res = f.do("tech1", "PUT", "/badges/0A0B0C0D", domain.Badge{UID: "0A0B0C0D", MemberID: "m3", Revoked: true})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.NoError(t, json.Unmarshal(res.Body, &b))
	require.Equal(t, "tech1", b.AddedBy, "a change keeps who added the badge")
	got, err := f.st.Badge(ctx, "0A0B0C0D")
	require.NoError(t, err)
	require.True(t, got.Revoked)
	require.Equal(t, "tech1", got.AddedBy)
	require.Equal(t, http.StatusNoContent, f.do("tech1", "DELETE", "/badges/0A0B0C0D", nil).Status)
	require.Empty(t, f.items("tech1", "/badges"))
}
