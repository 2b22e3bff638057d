package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics/metricstest"
)

// TestMetricsPassPromtool: a running central's /metrics, after API
// requests, passes `promtool check metrics`.
func TestMetricsPassPromtool(t *testing.T) {
	metricstest.Promtool(t)
	addr, _, stop := serveProcess(t, filepath.Join(t.TempDir(), "data"))
	code, _ := get(t, addr, "not-a-token", "/api/v1/centers")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get(t, addr, "", "/metrics")
	require.Equal(t, http.StatusOK, code)
	metricstest.Check(t, []byte(body))
	require.NoError(t, stop())
}
