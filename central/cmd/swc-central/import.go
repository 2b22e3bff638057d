package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/onboarding"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/cmdline"
)

const importHelp = `usage:
  swc-central import [--dry-run] [--api URL [--token-file F]] [--data DIR | --db postgres://...] FILE...

import creates centers, rooms, desk pools, doors, members, badges and
passes from FILEs, all or nothing (package onboarding): NAME.json (an
array per list), LIST.csv (centers.csv, rooms.csv, desk_pools.csv,
doors.csv, members.csv, badges.csv, passes.csv; a header line names the
columns) or NAME.zip of LIST.csv files. Every problem is printed as
FILE:LINE: FIELD: CODE: MESSAGE and nothing is stored; --dry-run checks
everything and stores nothing.

With --api the files go to a running central (POST /api/v1/import, with
an admin token): its whitelists and crediting follow at once. Then give
one .json file, one .zip file, or .csv files (sent as one zip). Without
--api the database (--data or --db) is written directly, as the system
actor "import-cli": for a central that is not running (serve compiles
everything when it starts).

Flags:
`

func importCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cmdline.NewFlagSet("swc-central import", importHelp, stdout, stderr)
	dryRun := fs.Bool("dry-run", false, "check everything and store nothing")
	apiURL := fs.String("api", "", "a running central's address, such as http://127.0.0.1:8080 (default: write the database directly)")
	tokenFile := fs.String("token-file", "", "with --api: file holding an admin API token (default: the first admin token in --data)")
	dataDir := fs.String("data", "./data", "serve's data folder, holding the SQLite database (and the first admin token)")
	dbURL := fs.String("db", "", "PostgreSQL URL (postgres://...) instead of the SQLite database in --data")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "swc-central import: "+format+"\n", a...)
		return code
	}
	if fs.NArg() == 0 {
		return fail(2, "no FILE to import (see swc-central import -h)")
	}
	if *dbURL != "" && *dataDir != "./data" {
		return fail(2, "give --data or --db, not both")
	}
	if *apiURL != "" && *dbURL != "" {
		return fail(2, "give --api or --db, not both")
	}
	files := map[string][]byte{}
	for _, name := range fs.Args() {
		b, err := os.ReadFile(name)
		if err != nil {
			return fail(2, "%v", err)
		}
		files[name] = b
	}
	var res store.ImportResult
	var err error
	if *apiURL != "" {
		if *tokenFile == "" {
			*tokenFile = filepath.Join(*dataDir, server.AdminTokenFile)
		}
		res, err = importOverAPI(ctx, *apiURL, *tokenFile, fs.Args(), files, *dryRun)
	} else {
		res, err = importDirect(ctx, *dataDir, *dbURL, fs.Args(), files, *dryRun)
	}
	var rep *onboarding.Report
	if errors.As(err, &rep) {
		for _, p := range rep.Problems {
			fmt.Fprintln(stderr, p)
		}
		if rep.Total > len(rep.Problems) {
			fmt.Fprintf(stderr, "... and %d more\n", rep.Total-len(rep.Problems))
		}
		return fail(1, "nothing imported: %d problems", rep.Total)
	}
	if err != nil {
		return fail(1, "%v", err)
	}
	verb := "imported"
	if res.DryRun {
		verb = "dry run, nothing stored; would import"
	}
	fmt.Fprintf(stdout, "%s %d centers, %d rooms, %d desk pools, %d doors, %d members, %d badges, %d passes\n",
		verb, res.Centers, res.Rooms, res.DeskPools, res.Doors, res.Members, res.Badges, res.Passes)
	return 0
}

// importDirect imports into the database.
func importDirect(ctx context.Context, dataDir, dbURL string, names []string, files map[string][]byte, dryRun bool) (store.ImportResult, error) {
	b := onboarding.NewBundle()
	for _, name := range names {
		b.AddFile(name, files[name])
	}
	st, err := openStore(ctx, dataDir, dbURL)
	if err != nil {
		return store.ImportResult{}, err
	}
	defer st.Close()
	return onboarding.Import(audit.WithSystem(ctx, "import-cli"), st, b, store.ImportOptions{DryRun: dryRun})
}

// importOverAPI sends the files in one request: a JSON or zip file as it
// is, CSV files in a zip made here. Problems are given back the local
// file names.
func importOverAPI(ctx context.Context, base, tokenFile string, names []string, files map[string][]byte, dryRun bool) (store.ImportResult, error) {
	var res store.ImportResult
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return res, fmt.Errorf("--token-file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	local := map[string]string{} // the request's file names to ours
	var body []byte
	var ct string
	ext := func(n string) string { return strings.ToLower(filepath.Ext(n)) }
	switch {
	case len(names) == 1 && ext(names[0]) == ".json":
		body, ct, local["body.json"] = files[names[0]], "application/json", names[0]
	case len(names) == 1 && ext(names[0]) == ".zip":
		body, ct = files[names[0]], "application/zip"
		local["body.zip"] = names[0]
	default:
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range names {
			if ext(n) != ".csv" {
				return res, fmt.Errorf("%s: with --api, give one .json file, one .zip file, or .csv files", n)
			}
			inner := filepath.Base(n)
			if _, dup := local["body.zip/"+inner]; dup {
				return res, fmt.Errorf("%s: two files named %s", n, inner)
			}
			w, err := zw.Create(inner)
			if err != nil {
				return res, err
			}
			if _, err := w.Write(files[n]); err != nil {
				return res, err
			}
			local["body.zip/"+inner] = n
		}
		if err := zw.Close(); err != nil {
			return res, err
		}
		body, ct = buf.Bytes(), "application/zip"
	}
	u := strings.TrimSuffix(base, "/") + "/api/v1/import"
	if dryRun {
		u += "?dry_run=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("--api: %w", err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 10 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return res, fmt.Errorf("--api: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return res, fmt.Errorf("--api: %w", err)
	}
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(out, &res); err != nil {
			return res, fmt.Errorf("--api: answer: %w", err)
		}
		return res, nil
	}
	var apiErr struct {
		Code     string               `json:"code"`
		Message  string               `json:"message"`
		Problems []onboarding.Problem `json:"problems"`
		Total    int                  `json:"total_rows_wrong"`
	}
	if json.Unmarshal(out, &apiErr) != nil || apiErr.Code == "" {
		return res, fmt.Errorf("--api: %s: %.200s", resp.Status, out)
	}
	if apiErr.Code != "import_rejected" {
		return res, fmt.Errorf("--api: %s: %s: %s", resp.Status, apiErr.Code, apiErr.Message)
	}
	for i, p := range apiErr.Problems {
		if n, ok := local[p.File]; ok {
			apiErr.Problems[i].File = n
		} else if zipName, inner, ok := strings.Cut(p.File, "/"); ok && local[zipName] != "" {
			apiErr.Problems[i].File = local[zipName] + "/" + inner
		}
	}
	return res, &onboarding.Report{Problems: apiErr.Problems, Total: apiErr.Total}
}
