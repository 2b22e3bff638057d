package server

import (
	"context"
	"io"
	"log/slog"
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
