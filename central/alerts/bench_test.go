package alerts_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// BenchmarkStatusStream feeds an engine on SQLite the statuses of 1,000
// doors republishing every 30 s (only their outbox depth changing), ten
// minutes of them per iteration, and reports the statuses it applies per
// second and the store writes per status (the write bound: one per door
// per StateWriteInterval, so about 0.5 at the default minute).
func BenchmarkStatusStream(b *testing.B) {
	const doors = 1000
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir()+"/swc.db", sqlite.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { st.Close() })
	require.NoError(b, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "c1", TimeZone: "UTC"}))
	for i := range doors {
		require.NoError(b, st.CreateDoor(ctx, domain.Door{ID: fmt.Sprintf("d%04d", i), CenterID: "c1", Name: "d"}))
	}
	reg := metrics.NewRegistry()
	at := t0()
	e := alerts.New(alerts.Config{Now: func() time.Time { return at }}, st, nil, quiet(), reg)
	statuses := 0
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for round := range 20 { // 10 minutes at 30 s
			at = at.Add(30 * time.Second)
			for i := range doors {
				s := online(fmt.Sprintf("d%04d", i))
				s.OutboxDepth = uint64(round % 3)
				if err := e.ApplyStatus(ctx, s, at); err != nil {
					b.Fatal(err)
				}
				statuses++
			}
		}
	}
	b.StopTimer()
	var sb strings.Builder
	require.NoError(b, reg.WriteText(&sb))
	writes := 0.0
	for _, line := range strings.Split(sb.String(), "\n") {
		var v float64
		if _, err := fmt.Sscanf(line, `swc_door_state_writes_total{cause="change"} %g`, &v); err == nil {
			writes += v
		}
		if _, err := fmt.Sscanf(line, `swc_door_state_writes_total{cause="interval"} %g`, &v); err == nil {
			writes += v
		}
	}
	b.ReportMetric(float64(statuses)/b.Elapsed().Seconds(), "statuses/s")
	b.ReportMetric(writes/float64(statuses), "writes/status")
}
