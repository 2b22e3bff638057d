package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
)

func writeFiles(t *testing.T, dir string, files map[string]string) []string {
	t.Helper()
	var names []string
	for n, body := range files {
		p := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		names = append(names, p)
	}
	return names
}

// TestImportDirect: import writes a region into the database, a dry run
// and a bundle with problems store nothing, and the problems name the
// file and line.
func TestImportDirect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	in := t.TempDir()
	good := writeFiles(t, in, map[string]string{
		"centers.csv": "id,name,time_zone\nc1,Gent,Europe/Brussels\n",
		"doors.csv":   "id,center_id,name\nd1,c1,Front\nd2,c1,Back\n",
		"people.json": `{"members": [{"id": "m1", "name": "Ann", "status": "active"}], "badges": [{"uid": "04A1B2C3", "member_id": "m1"}]}`,
	})
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(ctx, append([]string{"import", "--dry-run", "--data", dir}, good...), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "dry run, nothing stored; would import 1 centers, 0 rooms, 0 desk pools, 2 doors, 1 members, 1 badges, 0 passes")

	bad := writeFiles(t, t.TempDir(), map[string]string{"doors.csv": "id,center_id,name\nd3,c1,Side\nd4,c9,Lost\n"})
	out.Reset()
	errOut.Reset()
	require.Equal(t, 1, run(ctx, append([]string{"import", "--data", dir}, append(good, bad...)...), &out, &errOut))
	require.Contains(t, errOut.String(), bad[0]+":3: center_id: missing_ref: center c9 is neither in the bundle nor stored")
	require.Contains(t, errOut.String(), "nothing imported: 1 problems")

	out.Reset()
	require.Equal(t, 0, run(ctx, append([]string{"import", "--data", dir}, good...), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "imported 1 centers")
	st, err = sqlite.Open(ctx, filepath.Join(dir, server.DBFile), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	d, err := st.Door(ctx, "d2")
	require.NoError(t, err)
	require.Equal(t, "c1", d.CenterID)
	page, err := st.ListAudit(ctx, store.AuditFilter{ObjectID: "d2"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	require.Equal(t, audit.Import, page.Items[0].Action)
	require.Equal(t, "import-cli", page.Items[0].Actor.ID)

	require.Equal(t, 2, run(ctx, []string{"import", "--data", dir}, &out, &errOut), "no file")
}

// TestImportOverAPI: with --api the files go to a running central; its
// problems come back with the local file names.
func TestImportOverAPI(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	defer st.Close()
	secret := store.NewSecret(api.TokenPrefix)
	require.NoError(t, st.CreateToken(ctx, store.Token{ID: "admin", Name: "admin", Role: store.RoleAdmin}, secret))
	srv := httptest.NewServer(api.New(api.Config{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	in := t.TempDir()
	tokenFile := filepath.Join(in, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(secret+"\n"), 0o600))
	csvs := writeFiles(t, in, map[string]string{
		"centers.csv": "id,name,time_zone\nc1,Gent,Europe/Brussels\n",
		"doors.csv":   "id,center_id,name\nd1,c1,Front\nd2,c2,Lost\n",
	})
	var out, errOut bytes.Buffer
	args := []string{"import", "--api", srv.URL, "--token-file", tokenFile}
	require.Equal(t, 1, run(ctx, append(args, csvs...), &out, &errOut))
	require.Contains(t, errOut.String(), filepath.Join(in, "doors.csv")+":3: center_id: missing_ref")

	js := writeFiles(t, t.TempDir(), map[string]string{"region.json": `{"centers": [{"id": "c1", "name": "Gent", "time_zone": "Europe/Brussels"}],
"doors": [{"id": "d1", "center_id": "c1", "name": "Front"}]}`})
	errOut.Reset()
	require.Equal(t, 0, run(ctx, append(args, js...), &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "imported 1 centers, 0 rooms, 0 desk pools, 1 doors")
	_, err = st.Door(ctx, "d1")
	require.NoError(t, err)

	require.Equal(t, 1, run(ctx, append(args, js[0], csvs[0]), &out, &errOut), "json and csv together over the API")
}
