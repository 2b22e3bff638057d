package server_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/sdnotify/sdnotifytest"
)

// TestRunNotifiesSystemd runs serve as systemd would with Type=notify and
// WatchdogSec= (scripts/systemd/swc-central.service): READY=1 once it
// serves, WATCHDOG=1 keep-alives while it runs, STOPPING=1 when it stops.
func TestRunNotifiesSystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	got := sdnotifytest.Listen(t, sock)
	next := func() string {
		t.Helper()
		return sdnotifytest.Next(t, got, 20*time.Second)
	}
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // 0.4 s: a keep-alive every 0.2 s
	t.Setenv("WATCHDOG_PID", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", MQTTSAddr: "127.0.0.1:0",
			Out: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	var ready, watchdog int
	for ready == 0 || watchdog < 2 {
		switch m := next(); m {
		case "READY=1":
			ready++
		case "WATCHDOG=1":
			watchdog++
		default:
			t.Fatalf("unexpected notification %q", m)
		}
	}
	assert.Equal(t, 1, ready)
	cancel()
	for m := next(); m != "STOPPING=1"; m = next() {
		assert.Equal(t, "WATCHDOG=1", m)
	}
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
