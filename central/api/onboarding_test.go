package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/store"
)

const bundleJSON = `{
 "centers": [{"id": "c7", "name": "Namur", "time_zone": "Europe/Brussels"}],
 "doors": [{"id": "d7", "center_id": "c7", "name": "Front"}, {"id": "d8", "center_id": "c1", "name": "Side"}],
 "members": [{"id": "m7", "name": "Ann", "home_center_id": "c7", "status": "active"}],
 "badges": [{"uid": "07070707", "member_id": "m7", "added_by": "someone"}]
}`

// TestImportBundle: admins import a bundle (JSON, zip of CSV, one CSV), a
// dry run changes nothing, problems name file, line and field; managers
// and technicians are refused.
func TestImportBundle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	for _, who := range []string{"mgr1", "tech1", ""} {
		res := f.do(who, "POST", "/import", bundleJSON)
		require.Contains(t, []int{http.StatusForbidden, http.StatusUnauthorized}, res.Status, "%s: %s", who, res.Body)
	}
	_, err := f.st.Center(ctx, "c7")
	require.ErrorIs(t, err, store.ErrNotFound)

	res := f.do("admin", "POST", "/import?dry_run=true", bundleJSON)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var got store.ImportResult
	require.NoError(t, json.Unmarshal(res.Body, &got))
	require.Equal(t, store.ImportResult{DryRun: true, Centers: 1, Doors: 2, Members: 1, Badges: 1}, got)
	_, err = f.st.Center(ctx, "c7")
	require.ErrorIs(t, err, store.ErrNotFound, "a dry run stores nothing")
	require.Empty(t, f.changes)

	res = f.do("admin", "POST", "/import", bundleJSON)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.Len(t, f.changes, 5)
	b, err := f.st.Badge(ctx, "07070707")
	require.NoError(t, err)
	require.Equal(t, "admin", b.AddedBy, "the caller, not the body, adds the badge")

	// Again: every object exists; the problems name the line.
	res = f.do("admin", "POST", "/import", bundleJSON)
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	require.Equal(t, "import_rejected", res.Err.Code)
	require.Equal(t, 5, res.Err.Total)
	require.Equal(t, "body.json", res.Err.Problems[0].File)
	require.Equal(t, 2, res.Err.Problems[0].Line)
	require.Equal(t, "exists", res.Err.Problems[0].Code)

	// A zip of CSV files, with a problem in one of them.
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, body := range map[string]string{
		"centers.csv": "id,name,time_zone\nc8,Liège,Europe/Brussels\n",
		"doors.csv":   "id,center_id,name\nd9,c8,Front\nd10,c9,Lost\n",
	} {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, _ = w.Write([]byte(body))
	}
	require.NoError(t, zw.Close())
	res = f.do("admin", "POST", "/import", zbuf.Bytes(), "application/zip")
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Body)
	require.Len(t, res.Err.Problems, 1)
	p := res.Err.Problems[0]
	require.Equal(t, []any{"body.zip/doors.csv", 3, "center_id", "missing_ref"}, []any{p.File, p.Line, p.Field, p.Code})
	_, err = f.st.Center(ctx, "c8")
	require.ErrorIs(t, err, store.ErrNotFound, "all or nothing")

	res = f.do("admin", "POST", "/import?list=doors&door_secrets=true", "id,center_id,name\nd11,c2,Back\n", "text/csv")
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	_, err = f.st.Door(ctx, "d11")
	require.NoError(t, err)
	got = store.ImportResult{}
	require.NoError(t, json.Unmarshal(res.Body, &got))
	require.NoError(t, f.st.VerifyDoorSecret(ctx, "d11", got.DoorSecrets["d11"]), "the secret answered is the door's")

	for _, tc := range []struct {
		path, ct string
		status   int
		code     string
	}{
		{"/import", "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"/import", "text/csv", http.StatusBadRequest, "invalid"},
		{"/import?list=tables", "text/csv", http.StatusBadRequest, "invalid"},
		{"/import?dry_run=maybe", "application/json", http.StatusBadRequest, "invalid"},
		{"/import?door_secrets=1", "application/json", http.StatusBadRequest, "invalid"},
	} {
		res := f.do("admin", "POST", tc.path, "x", tc.ct)
		require.Equal(t, tc.status, res.Status, "%s %s: %s", tc.path, tc.ct, res.Body)
		require.Equal(t, tc.code, res.Err.Code)
	}
	res = f.do("admin", "POST", "/import", bytes.Repeat([]byte(" "), 2<<20))
	require.Equal(t, http.StatusRequestEntityTooLarge, res.Status)
}
