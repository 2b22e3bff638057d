package api_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/api/apitest"
)

func TestLogRequests(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	h := api.LogRequests(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), f.srv)
	for _, tc := range []struct {
		who, path string
		status    int
		role      string
	}{
		{"mgr1", api.Prefix + "/centers/c1", 200, "manager"},
		{"tech1", api.Prefix + "/events", 403, "technician"},
		{"", api.Prefix + "/centers", 401, ""},
		{"admin", "/healthz", 404, ""}, // a probe path: logged at debug only
	} {
		buf.Reset()
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.who != "" {
			req.Header.Set("Authorization", "Bearer "+f.tokens[tc.who])
		}
		rec := apitest.Serve(t, h, req)
		require.Equal(t, tc.status, rec.Code)
		if tc.path == "/healthz" {
			require.Empty(t, buf.String(), "probes are not logged at info")
			continue
		}
		var line map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &line), "%s", buf.String())
		require.Equal(t, "http request", line["msg"])
		require.Equal(t, "GET", line["method"])
		require.Equal(t, tc.path, line["path"])
		require.EqualValues(t, tc.status, line["status"])
		require.Equal(t, tc.role, line["role"])
		require.Contains(t, line, "duration")
		if tc.who != "" {
			require.Equal(t, tc.who, line["token"], "the token id, never its secret")
		}
		require.NotContains(t, buf.String(), "swct_", "no secret in the log")
	}
}
