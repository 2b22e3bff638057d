package alerts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestObservationsNeverWait: the ingest hands statuses (on the broker's
// connection goroutine of each door) and commits (on its writer) to the
// engine; while the engine is behind (here: not running at all), neither
// may wait, or the doors' connections and every commit stall behind it, as
// when 10,000 doors reconnect after a broker restart. Once it runs, every
// door's latest state is applied and its events are seen: nothing is lost.
func TestObservationsNeverWait(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t, b.location(t))
			const doors = 300
			require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "c1", TimeZone: "Europe/Brussels"}))
			for i := range doors {
				require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: fmt.Sprintf("d%03d", i), CenterID: "c1", Name: "Door"}))
			}
			c := &clock{t: t0()}
			rec := &recorder{}
			e := alerts.New(alerts.Config{Now: c.Now}, st, []alerts.Notifier{rec}, quiet(), nil)

			// More observations than the engine's former queue held
			// (4096), with the engine not running.
			handed := make(chan struct{})
			go func() {
				defer close(handed)
				for round := range 20 {
					for i := range doors {
						s := online(fmt.Sprintf("d%03d", i))
						s.WLVersion = uint64(round + 1)
						e.ObserveStatus(s, c.Now())
					}
				}
				for i := range doors {
					door := fmt.Sprintf("d%03d", i)
					e.Committed(c.Now().UnixMilli(), []ingest.Batch{{Door: door, Events: []protocol.Event{ev(1, protocol.EventDoorClosed)}}})
				}
				// The first door goes offline, then comes back: it ends
				// online.
				e.ObserveStatus(protocol.Status{V: protocol.Version, Door: "d000", State: protocol.StateOffline}, c.Now())
				back := online("d000")
				back.WLVersion = 20
				e.ObserveStatus(back, c.Now())
				// A door's forced opening, among its events: raised.
				e.Committed(c.Now().UnixMilli(), []ingest.Batch{{Door: "d001", Events: []protocol.Event{ev(21, protocol.EventDoorForced)}}})
			}()
			select {
			case <-handed:
			case <-time.After(10 * time.Second):
				t.Fatal("handing statuses and commits to an engine that is behind waited (the ingest would stall)")
			}

			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- e.Run(runCtx) }()
			t.Cleanup(func() { cancel(); <-done })
			require.Eventually(t, func() bool {
				hs, err := st.Health().ListDoorHealth(ctx, nil)
				if err != nil || len(hs) != doors {
					return false
				}
				for _, h := range hs {
					if h.State != store.DoorOnline || h.WLVersion != 20 {
						return false
					}
				}
				return true
			}, 20*time.Second, 20*time.Millisecond, "every door's latest status applied")
			require.Eventually(t, func() bool {
				yes := true
				page, err := st.Health().ListAlerts(ctx, store.AlertFilter{Door: "d001", Open: &yes})
				return err == nil && len(page.Items) == 1 && page.Items[0].Kind == store.AlertForced
			}, 20*time.Second, 20*time.Millisecond, "the forced opening among the events raised its alert")
		})
	}
}
