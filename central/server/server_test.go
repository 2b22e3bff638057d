package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/keys"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

func start(t *testing.T, cfg server.Config) (*server.Server, string) {
	t.Helper()
	var out bytes.Buffer
	cfg.HTTPAddr, cfg.MQTTAddr, cfg.Out = "127.0.0.1:0", "127.0.0.1:0", &out
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.Start(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s, out.String()
}

func call(t *testing.T, s *server.Server, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.HTTPAddr()+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

// TestStartTwice starts serve in an empty folder, uses it, stops it, and
// starts it again on the same folder: same key, same data, same token, and
// no new token file.
func TestStartTwice(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, out := start(t, server.Config{DataDir: dir})
	tokenPath := filepath.Join(dir, server.AdminTokenFile)
	require.Contains(t, out, tokenPath, "serve says where the first token is")
	for _, f := range []string{server.AdminTokenFile, keys.FileName} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	raw, err := os.ReadFile(tokenPath)
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	require.True(t, strings.HasPrefix(token, api.TokenPrefix))
	pub1 := protocol.FormatPublicKey(s.Signer.PublicKey())

	code, body := call(t, s, token, "GET", "/api/v1/whoami", nil)
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.Contains(t, string(body), `"role":"admin"`)
	code, body = call(t, s, "wrong", "GET", "/api/v1/whoami", nil)
	require.Equal(t, http.StatusUnauthorized, code, "%s", body)
	code, body = call(t, s, token, "POST", "/api/v1/centers", domain.Center{ID: "c1", Name: "One", TimeZone: "Europe/Brussels"})
	require.Equal(t, http.StatusCreated, code, "%s", body)
	code, body = call(t, s, "", "GET", "/metrics", nil)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), "swc_api_requests_total")
	code, _ = call(t, s, "", "GET", "/healthz", nil)
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, s.Shutdown(context.Background()))

	s2, out := start(t, server.Config{DataDir: dir})
	require.NotContains(t, out, "admin API token", "no second first token")
	raw2, err := os.ReadFile(tokenPath)
	require.NoError(t, err)
	require.Equal(t, raw, raw2)
	require.Equal(t, pub1, protocol.FormatPublicKey(s2.Signer.PublicKey()), "the key is reused")
	code, body = call(t, s2, token, "GET", "/api/v1/centers/c1", nil)
	require.Equal(t, http.StatusOK, code, "the data is still there: %s", body)
	pub, err := server.PublicKey(dir)
	require.NoError(t, err)
	require.Equal(t, pub1, pub)
}

func TestConfigCheck(t *testing.T) {
	ok := server.Config{DataDir: "d", HTTPAddr: ":0", MQTTAddr: ":0"}
	require.NoError(t, ok.Check())
	for _, tc := range []struct {
		name string
		mod  func(*server.Config)
	}{
		{"no data", func(c *server.Config) { c.DataDir = "" }},
		{"no http", func(c *server.Config) { c.HTTPAddr = "" }},
		{"broker scheme", func(c *server.Config) { c.BrokerURL = "http://broker:1883" }},
		{"broker host", func(c *server.Config) { c.BrokerURL = "mqtt://" }},
		{"db scheme", func(c *server.Config) { c.DBURL = "mysql://x" }},
		{"no mqtt", func(c *server.Config) { c.MQTTAddr = "" }},
		{"negative mqtt connect timeout", func(c *server.Config) { c.MQTTConnectTimeout = -time.Second }},
		{"mqtt connect timeout over the maximum", func(c *server.Config) { c.MQTTConnectTimeout = time.Hour }},
		{"negative mqtt max connecting", func(c *server.Config) { c.MQTTMaxConnecting = -1 }},
		{"pprof on every interface", func(c *server.Config) { c.PprofAddr = ":6060" }},
		{"pprof on a public address", func(c *server.Config) { c.PprofAddr = "192.0.2.1:6060" }},
		{"pprof without a port", func(c *server.Config) { c.PprofAddr = "127.0.0.1" }},
	} {
		c := ok
		tc.mod(&c)
		require.Error(t, c.Check(), tc.name)
	}
	ext := ok
	ext.MQTTAddr, ext.BrokerURL = "", "mqtts://broker.example:8883"
	require.NoError(t, ext.Check())
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:0", "localhost:6060"} {
		c := ok
		c.PprofAddr = addr
		require.NoError(t, c.Check(), addr)
	}
}

// TestStartPostgres runs serve on PostgreSQL (a schema of its own).
func TestStartPostgres(t *testing.T) {
	db := storetest.PostgresSchema(t)

	dir := t.TempDir()
	s, out := start(t, server.Config{DataDir: dir, DBURL: db})
	require.Contains(t, out, server.AdminTokenFile)
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	code, body := call(t, s, strings.TrimSpace(string(raw)), "GET", "/api/v1/whoami", nil)
	require.Equal(t, http.StatusOK, code, "%s", body)
	_, err = os.Stat(filepath.Join(dir, server.DBFile))
	require.ErrorIs(t, err, os.ErrNotExist, "no SQLite file with --db")
	require.NoError(t, s.Shutdown(context.Background()))
}

// With one process, the whitelists are compiled before the broker listens:
// a door that connects finds its whitelist ready, and the start-up compile
// does not share the machine with thousands of reconnecting doors' backlog
// (at 10,000 doors it took 9.8 s that way, 1 s alone).
func TestWhitelistsCompiledBeforeTheBrokerListens(t *testing.T) {
	var logs bytes.Buffer
	cfg := server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", Out: io.Discard,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	s, err := server.Start(context.Background(), cfg)
	require.NoError(t, err)
	require.NoError(t, s.Shutdown(context.Background()))
	out := logs.String()
	compiled := strings.Index(out, "serve: whitelists loaded and compiled")
	listening := strings.Index(out, "serve: embedded MQTT broker listening")
	require.GreaterOrEqual(t, compiled, 0, "the start-up compile is logged")
	require.GreaterOrEqual(t, listening, 0, "the broker's start is logged")
	require.Less(t, compiled, listening, "compiled before the broker listens")
}
