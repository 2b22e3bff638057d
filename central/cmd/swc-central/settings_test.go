package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/settings"
)

// TestServeAndSettleShareSettings is issue 16's complaint as a test: serve
// started with --rate-cents 400 stores it as the network settings, and
// settle without any flag prices the period at 4.00, not at a default of
// its own. A later start with another --rate-cents is refused and points
// to the API; a change through the API is what settle then reads.
func TestServeAndSettleShareSettings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr, _, log, stop := serveProcessLog(t, dir, "--rate-cents", "400")
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	code, body := get(t, addr, token, "/api/v1/settings")
	require.Equal(t, http.StatusOK, code, body)
	var cur struct {
		Period  string           `json:"period"`
		Current settings.Version `json:"current"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &cur))
	assert.Equal(t, int64(1), cur.Current.Number)
	assert.Equal(t, int64(400), cur.Current.Settings.DefaultRateCents)
	assert.Equal(t, server.SeededBy, cur.Current.CreatedBy)
	require.NoError(t, stop())
	assert.Contains(t, log.String(), "stored the network settings for the first time")

	now := credit.PeriodOf(time.Now(), settings.Location()).String()
	got := settleJSON(t, "--data", dir, "--period", now)
	assert.Equal(t, int64(400), got.DefaultRateCents, "settle reads what serve stored")
	assert.Equal(t, int64(1), got.SettingsVersion)
	assert.Empty(t, got.Override)
	got = settleJSON(t, "--data", dir, "--period", now, "--from-scratch")
	assert.Equal(t, int64(400), got.DefaultRateCents)

	// Another rate on the command line: refused, pointing to the API.
	cmd := exec.Command(os.Args[0], "serve", "--data", dir, "--http", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--rate-cents", "1000")
	cmd.Env = append(os.Environ(), "SWC_CENTRAL_AS_MAIN=1")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "serve must refuse to start: %s", errOut.String())
	assert.Equal(t, 1, exit.ExitCode())
	assert.Contains(t, errOut.String(), "--rate-cents 1000 differs from the network default rate stored in settings version 1 (400 cents)")
	assert.Contains(t, errOut.String(), "PUT /api/v1/settings")

	// The same rate is accepted; the settings change through the API.
	addr, _, log, stop = serveProcessLog(t, dir, "--rate-cents", "400")
	assert.Contains(t, log.String(), "the flag is no longer needed")
	s := settings.Defaults()
	s.DefaultRateCents = 600
	b, err := json.Marshal(map[string]any{"effective_from": now, "settings": s})
	require.NoError(t, err)
	req, err := http.NewRequest("PUT", "http://"+addr+"/api/v1/settings", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	rb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", rb)
	require.NoError(t, stop())
	got = settleJSON(t, "--data", dir, "--period", now)
	assert.Equal(t, int64(600), got.DefaultRateCents)
	assert.Equal(t, int64(2), got.SettingsVersion)
}

// TestSettleOverride: flags override the stored settings only for a
// one-off recomputation (--from-scratch), and the output says so.
func TestSettleOverride(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, _, _, stop := serveProcessLog(t, dir, "--rate-cents", "400")
	require.NoError(t, stop())
	now := credit.PeriodOf(time.Now(), settings.Location()).String()

	var out, errOut bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"settle", "--data", dir, "--period", now, "--rate-cents", "1000"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "add --from-scratch")
	assert.Empty(t, out.String())

	out.Reset()
	errOut.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"settle", "--data", dir, "--period", now, "--from-scratch", "--rate-cents", "1000", "--format", "json"}, &out, &errOut), errOut.String())
	var s credit.Settlement
	require.NoError(t, json.Unmarshal(out.Bytes(), &s))
	assert.Equal(t, int64(1000), s.DefaultRateCents)
	assert.Equal(t, "rate-cents=1000 instead of settings version 1", s.Override)
	assert.Contains(t, errOut.String(), "one-off recomputation of "+now+" with rate-cents=1000 instead of the stored settings version 1; nothing is stored")

	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"settle", "--data", dir, "--period", now, "--from-scratch", "--no-show", "booked", "--grace-minutes", "0"}, &out, &errOut), errOut.String())
	lines := strings.Split(out.String(), "\n")
	require.GreaterOrEqual(t, len(lines), 2)
	assert.Equal(t, now+",false,override,,grace-minutes=0 no-show=booked instead of settings version 1,,,,,,", lines[1], "the CSV's first line after the header says so")

	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--rate-cents", "0"}, "override default_rate_cents"},
		{[]string{"--no-show", "half"}, "override no_show"},
		{[]string{"--grace-minutes", "-3"}, "override grace_minutes"},
		{[]string{"--default-visit-minutes", "5000"}, "override default_visit_minutes"},
	} {
		out.Reset()
		errOut.Reset()
		require.Equal(t, 2, run(context.Background(), append([]string{"settle", "--data", dir, "--period", now, "--from-scratch"}, tc.args...), &out, &errOut), tc.args)
		assert.Contains(t, errOut.String(), tc.says)
		assert.Empty(t, out.String())
	}
}
