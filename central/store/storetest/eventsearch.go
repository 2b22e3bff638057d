package storetest

import (
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// testEventSearch: the console's event search filters by badge, reason and
// lateness (received long after the door time).
func testEventSearch(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	evs := Events(1, 4)
	evs[1].UID, evs[1].Reason = "04FFFFFF", protocol.DeniedUnknownBadge
	evs[1].Member = ""
	onTime := base().Add(5 * time.Minute).UnixMilli()
	_, err := s.AppendEvents(ctx, "d1", onTime, evs[:2])
	require.NoError(t, err)
	_, err = s.AppendEvents(ctx, "d1", base().Add(3*time.Hour).UnixMilli(), evs[2:]) // kept while offline
	require.NoError(t, err)
	tests := []struct {
		name string
		f    store.EventFilter
		want []string
	}{
		{"badge", store.EventFilter{UID: "04FFFFFF"}, []string{"d1/2"}},
		{"reason", store.EventFilter{Reason: protocol.GrantedBooking}, []string{"d1/1", "d1/3", "d1/4"}},
		{"late", store.EventFilter{LateMs: time.Hour.Milliseconds()}, []string{"d1/3", "d1/4"}},
		{"late and badge", store.EventFilter{LateMs: time.Hour.Milliseconds(), UID: "04FFFFFF"}, nil},
		{"not late enough", store.EventFilter{LateMs: 4 * time.Hour.Milliseconds()}, nil},
	}
	for _, tc := range tests {
		page, err := s.ListEvents(ctx, tc.f)
		require.NoError(t, err, tc.name)
		var got []string
		for _, ev := range page.Items {
			got = append(got, fmt.Sprintf("%s/%d", ev.Door, ev.Seq))
		}
		require.Equal(t, tc.want, got, tc.name)
	}
}
