package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Shutdown runs the steps last added first; the consumers of the
// ingest's commits (onStopBeside) stop side by side, so that a restart
// waits for the slowest of them and not for their sum; and a beside step
// that does not finish within the shutdown's deadline is left behind.
func TestShutdownStepsBesideEachOther(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var mu sync.Mutex
	var order []string
	note := func(what string) {
		mu.Lock()
		order = append(order, what)
		mu.Unlock()
	}
	firstStarted := make(chan struct{})
	s.onStop("store", func(context.Context) error { note("store"); return nil })
	s.onStopBeside("crediting", func(context.Context) error {
		close(firstStarted)
		note("crediting")
		return nil
	})
	s.onStopBeside("check-ins", func(context.Context) error {
		// Runs first (added last); it can only finish once the crediting
		// started, which it does only beside it.
		select {
		case <-firstStarted:
		case <-time.After(5 * time.Second):
			t.Error("the beside steps ran one after the other")
		}
		note("check-ins")
		return nil
	})
	s.onStopBeside("stuck", func(context.Context) error { select {} })
	s.onStop("ingest", func(context.Context) error { note("ingest"); return nil })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.Shutdown(ctx)
	require.Error(t, err, "the stuck step is reported")
	assert.ErrorContains(t, err, "stuck")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, order, 4)
	assert.Equal(t, "ingest", order[0], "the step added last stops first")
	assert.ElementsMatch(t, []string{"crediting", "check-ins"}, order[1:3])
	assert.Equal(t, "store", order[3], "the store closes after the group")
}

// The embedded broker closes the doors' connections beside the crediting's
// flush and the check-ins' drain (each bounded to about a second), not
// before them: a restart of 10,000 doors waited 1.2-1.7 s for the broker,
// then a second for the check-ins.
func TestEmbeddedBrokerStopsBesideTheConsumers(t *testing.T) {
	ctx := context.Background()
	cfg := Config{DataDir: filepath.Join(t.TempDir(), "data"), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		Out: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s, err := Start(ctx, cfg)
	require.NoError(t, err)
	var group []string
	for _, g := range stopGroups(s.stops) {
		for _, st := range g {
			if st.what == "embedded broker" {
				for _, other := range g {
					group = append(group, other.what)
				}
			}
		}
	}
	require.NoError(t, s.Shutdown(ctx))
	assert.Subset(t, group, []string{"embedded broker", "crediting", "booking check-ins and releases"})
}
