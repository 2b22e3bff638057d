package posting_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// TestStartOverlapsCommitsCountedOnce forces what the ingest can do while
// the crediting starts: commits stored before the start read the store's
// events, some queued through Committed before the start, some whose hook
// runs only after it. Each event is credited and counted once, and the
// ledger is what a computation from scratch gives.
func TestStartOverlapsCommitsCountedOnce(t *testing.T) {
	tests := []struct {
		name string
		// How the first two thirds of the events reach the crediting:
		// stored and hooked before Run, stored before Run and hooked after
		// its start.
		hookedBefore, hookedAfter bool
	}{
		{"hooked before the start", true, false},
		{"hooked after the start", false, true},
		{"both", true, true},
		{"recovered only", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			n := smallNetwork(t)
			st := openSQLite(t, nil)
			loadDomain(t, st, n)
			now := n.Period.End(n.Config.Location).Add(5 * 24 * time.Hour)
			rules, err := credit.DefaultConfig(1000)
			require.NoError(t, err)
			reg, logs := metrics.NewRegistry(), &bytes.Buffer{}
			s, err := posting.New(posting.Config{Rules: rules, Store: st, Metrics: reg,
				Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: func() time.Time { return now },
				Every: time.Millisecond, Debounce: time.Millisecond})
			require.NoError(t, err)

			third := len(n.Events) / 3
			a, b, c := n.Events[:third], n.Events[third:2*third], n.Events[2*third:]
			var hookA func(int64, []ingest.Batch)
			if tc.hookedBefore {
				hookA = s.Committed
			}
			commit(t, st, a, hookA)
			commit(t, st, b, nil)

			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.Run(runCtx) }()
			t.Cleanup(func() {
				cancel()
				require.NoError(t, <-done)
			})
			require.NoError(t, s.Flush(ctx)) // the start has read and credited a and b
			if tc.hookedAfter {
				hookOnly(b, s.Committed)
			}
			commit(t, st, c, s.Committed)
			require.NoError(t, s.Flush(ctx))

			got, err := s.Settlement(ctx, n.Period)
			require.NoError(t, err)
			require.Equal(t, canon(t, fromScratch(t, st, n.Period)), canon(t, got))
			var text bytes.Buffer
			require.NoError(t, reg.WriteText(&text))
			assert.Contains(t, text.String(), "swc_credit_events_total 4000\n")
			assert.Contains(t, text.String(), "swc_credit_pending_events 0\n")
			assert.NotContains(t, logs.String(), "level=ERROR")
		})
	}
}

// hookOnly calls hook as the ingest does for events already stored, one
// call per receipt time.
func hookOnly(events []domain.Event, hook func(int64, []ingest.Batch)) {
	var r int64
	var batches []ingest.Batch
	for i, ev := range events {
		if i == 0 || ev.ReceivedMs != r {
			if len(batches) > 0 {
				hook(r, batches)
			}
			r, batches = ev.ReceivedMs, nil
		}
		if len(batches) == 0 || batches[len(batches)-1].Door != ev.Door {
			batches = append(batches, ingest.Batch{Door: ev.Door})
		}
		batches[len(batches)-1].Events = append(batches[len(batches)-1].Events, ev.Event)
	}
	if len(batches) > 0 {
		hook(r, batches)
	}
}
