package credit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAmountCentsRounding(t *testing.T) {
	tests := []struct {
		minutes, rate, want int64
	}{
		{0, 1001, 0},
		{60, 1000, 1000},
		{15, 1001, 250},   // 250.25 → down
		{30, 1001, 501},   // 500.5 → half away from zero
		{45, 1001, 751},   // 750.75 → up
		{-30, 1001, -501}, // -500.5 → half away from zero
		{-15, 1001, -250}, // -250.25
		{90, 1, 2},        // 1.5 → 2
		{-90, 1, -2},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, amountCents(tt.minutes, tt.rate), "%d min at %d", tt.minutes, tt.rate)
	}
}

func TestCeilQuarterMinutes(t *testing.T) {
	tests := []struct {
		ms   int64
		want int64
	}{
		{0, 0},
		{-5, 0},
		{1, 15},
		{quarterMs, 15},
		{quarterMs + 1, 30},
		{4 * quarterMs, 60},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ceilQuarterMinutes(tt.ms), "%d ms", tt.ms)
	}
}
