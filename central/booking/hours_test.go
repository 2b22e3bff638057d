package booking_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
)

// TestWithinHours checks the opening-hours rule in the center's local time:
// one span, split days, a span to midnight, the change to summer time.
func TestWithinHours(t *testing.T) {
	c := domain.Center{ID: "c1", TimeZone: "Europe/Brussels"}
	c.Hours[time.Monday] = []domain.Span{{Open: 8 * 60, Close: 12 * 60}, {Open: 13 * 60, Close: 18 * 60}}
	c.Hours[time.Friday] = []domain.Span{{Open: 18 * 60, Close: 1440}}
	c.Hours[time.Sunday] = []domain.Span{{Open: 9 * 60, Close: 17 * 60}}
	mon := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, brussels) }
	for _, tc := range []struct {
		name       string
		start, end time.Time
		want       bool
	}{
		{"morning span", mon(8, 0), mon(12, 0), true},
		{"afternoon span", mon(13, 30), mon(18, 0), true},
		{"across the lunch break", mon(11, 0), mon(14, 0), false},
		{"before opening", mon(7, 59), mon(9, 0), false},
		{"after closing", mon(17, 0), mon(18, 1), false},
		{"closed Tuesday", mon(9, 0).AddDate(0, 0, 1), mon(10, 0).AddDate(0, 0, 1), false},
		{"to midnight", time.Date(2026, 3, 6, 20, 0, 0, 0, brussels), time.Date(2026, 3, 7, 0, 0, 0, 0, brussels), true},
		{"past midnight", time.Date(2026, 3, 6, 20, 0, 0, 0, brussels), time.Date(2026, 3, 7, 1, 0, 0, 0, brussels), false},
		{"in UTC, local 09:00-17:00 on the DST Sunday", time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 15, 0, 0, 0, time.UTC), true},
		{"in UTC, local 08:00 on the DST Sunday", time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 15, 0, 0, 0, time.UTC), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := booking.WithinHours(&c, tc.start, tc.end)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
