package sdnotify

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/sdnotify/sdnotifytest"
)

// listen plays systemd: a datagram socket collecting what is sent.
func listen(t *testing.T, name string) <-chan string {
	t.Helper()
	return sdnotifytest.Listen(t, name)
}

func next(t *testing.T, got <-chan string) string {
	t.Helper()
	return sdnotifytest.Next(t, got, 10*time.Second)
}

func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	got := listen(t, sock)
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "")
	n, err := FromEnv()
	require.NoError(t, err)
	require.True(t, n.Enabled())
	assert.Zero(t, n.WatchdogInterval())
	require.NoError(t, n.Ready())
	assert.Equal(t, "READY=1", next(t, got))
	require.NoError(t, n.Status("door locked, 3 events waiting"))
	assert.Equal(t, "STATUS=door locked, 3 events waiting", next(t, got))
	require.NoError(t, n.Stopping())
	assert.Equal(t, "STOPPING=1", next(t, got))
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "@swc-sdnotify-test-" + strconv.Itoa(os.Getpid())
	got := listen(t, "\x00"+name[1:])
	t.Setenv("NOTIFY_SOCKET", name)
	n, err := FromEnv()
	require.NoError(t, err)
	require.NoError(t, n.Ready())
	assert.Equal(t, "READY=1", next(t, got))
}

func TestNotStartedBySystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000")
	n, err := FromEnv()
	require.NoError(t, err)
	assert.False(t, n.Enabled())
	assert.NoError(t, n.Ready())
	assert.Zero(t, n.WatchdogInterval())
	var none *Notifier
	assert.NoError(t, none.Ready())
	done := make(chan struct{})
	go func() { none.KeepAlive(context.Background(), nil, slog.New(slog.DiscardHandler)); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("KeepAlive without a watchdog did not return")
	}
}

func TestWatchdogEnv(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		err       bool
	}{
		{"30000000", "", 30 * time.Second, false},
		{"30000000", strconv.Itoa(os.Getpid()), 30 * time.Second, false},
		{"30000000", "1", 0, false}, // another process's watchdog
		{"soon", "", 0, true},
		{"-5", "", 0, true},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		n, err := FromEnv()
		assert.Equal(t, tc.err, err != nil, "%s %s: %v", tc.usec, tc.pid, err)
		assert.Equal(t, tc.want, n.WatchdogInterval(), "%s %s", tc.usec, tc.pid)
	}
}

// TestKeepAlive: keep-alives flow while the probe passes and stop while it
// fails.
func TestKeepAlive(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	got := listen(t, sock)
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000") // 200 ms: a keep-alive every 100 ms
	t.Setenv("WATCHDOG_PID", "")
	n, err := FromEnv()
	require.NoError(t, err)
	var healthy atomic.Bool
	healthy.Store(true)
	var probes atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.KeepAlive(ctx, func(context.Context) error {
			probes.Add(1)
			if healthy.Load() {
				return nil
			}
			return errors.New("store does not answer")
		}, slog.New(slog.DiscardHandler))
	}()
	assert.Equal(t, "WATCHDOG=1", next(t, got))
	assert.Equal(t, "WATCHDOG=1", next(t, got))
	healthy.Store(false)
	time.Sleep(150 * time.Millisecond) // lets a keep-alive already on its way arrive
	for len(got) > 0 {
		<-got
	}
	before := probes.Load()
	time.Sleep(400 * time.Millisecond)
	assert.Greater(t, probes.Load(), before, "the probe keeps being asked")
	assert.Empty(t, got, "no keep-alive while the probe fails")
	healthy.Store(true)
	assert.Equal(t, "WATCHDOG=1", next(t, got), "keep-alives resume")
	cancel()
	<-done
}
