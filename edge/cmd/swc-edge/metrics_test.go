package main

import (
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/metrics/metricstest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestMetricsPassPromtool: a running door's /metrics, after taps and a
// door movement, passes `promtool check metrics`.
func TestMetricsPassPromtool(t *testing.T) {
	metricstest.Promtool(t)
	s := newSite(t, "")
	p := s.start()
	s.tap(protocol.UID("04A1B2C3"))
	_, errOut, code := swcEdge(t, "sim", "door", "open", "--config", s.config)
	require.Equal(t, 0, code, errOut)
	resp, err := http.Get(s.base + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	metricstest.Check(t, body)
	require.Equal(t, 0, p.stop(t, syscall.SIGTERM))
}
