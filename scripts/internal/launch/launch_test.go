package launch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessUsageOfThisProcess(t *testing.T) {
	// Spend CPU until the kernel's accounting (in clock ticks) shows some:
	// on a loaded machine 50 ms of wall time may hold no tick of this
	// process's own.
	var u Usage
	for deadline := time.Now().Add(10 * time.Second); ; {
		for x, spin := 0, time.Now().Add(20*time.Millisecond); time.Now().Before(spin); x++ {
			_ = x * x
		}
		var err error
		u, err = ProcessUsage(os.Getpid())
		require.NoError(t, err)
		if u.CPUSeconds > 0 || time.Now().After(deadline) {
			break
		}
	}
	assert.Greater(t, u.RSSBytes, uint64(1<<20))
	assert.GreaterOrEqual(t, u.PeakRSSBytes, u.RSSBytes)
	assert.Greater(t, u.CPUSeconds, 0.0)

	_, err := ProcessUsage(1 << 30)
	assert.Error(t, err, "no such process")
}

func TestProcStartStopRestart(t *testing.T) {
	p := &Proc{Name: "sleeper", Args: []string{"sleep", "30"}, Log: filepath.Join(t.TempDir(), "log")}
	require.NoError(t, p.Start())
	assert.True(t, p.Running())
	assert.Error(t, p.Start(), "a running process is not started twice")
	first := p.PID()
	p.Stop()
	assert.False(t, p.Running())
	require.NoError(t, p.Start())
	assert.NotEqual(t, first, p.PID())
	p.Kill()
	assert.False(t, p.Running())
	assert.Equal(t, -1, p.ExitCode(), "killed by a signal")
}

func TestStartCentral(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs swc-central")
	}
	ctx := context.Background()
	root, err := RepoRoot()
	require.NoError(t, err)
	tmp := t.TempDir()
	bins, err := Build(ctx, root, filepath.Join(tmp, "bin"))
	require.NoError(t, err)
	c, err := StartCentral(ctx, CentralOptions{Binary: bins.Central, DataDir: filepath.Join(tmp, "data")})
	require.NoError(t, err)
	t.Cleanup(c.Kill)
	assert.NotEmpty(t, c.Token)

	require.NoError(t, c.API(ctx, "POST", "/centers", map[string]any{"id": "c1", "name": "One", "time_zone": "Europe/Brussels"}, nil))
	require.NoError(t, c.API(ctx, "POST", "/doors", map[string]any{"id": "d1", "center_id": "c1", "name": "Front"}, nil))
	secret, err := c.DoorSecret(ctx, "d1")
	require.NoError(t, err)
	assert.NotEmpty(t, secret)
	err = c.API(ctx, "POST", "/doors", map[string]any{"id": "d2", "center_id": "nowhere", "name": "X"}, nil)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.GreaterOrEqual(t, apiErr.Status, 400)
	key, err := c.PublicKey(ctx)
	require.NoError(t, err)
	assert.Contains(t, key, "ed25519:")

	u, err := ProcessUsage(c.PID())
	require.NoError(t, err)
	assert.Greater(t, u.RSSBytes, uint64(0))

	c.Stop()
	assert.Equal(t, 0, c.ExitCode(), "a SIGTERM ends serve cleanly:\n%s", c.LogTail(20))
	require.NoError(t, c.Restart(ctx))
	require.NoError(t, c.API(ctx, "GET", "/doors/d1", nil, nil), "data kept across the restart")
}
