package credit_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want credit.Period
		ok   bool
	}{
		{"2026-11", credit.Period{Year: 2026, Month: time.November}, true},
		{"2000-01", credit.Period{Year: 2000, Month: time.January}, true},
		{"2199-12", credit.Period{Year: 2199, Month: time.December}, true},
		{"2026-13", credit.Period{}, false},
		{"2026-00", credit.Period{}, false},
		{"1999-12", credit.Period{}, false},
		{"2200-01", credit.Period{}, false},
		{"2026-1", credit.Period{}, false},
		{"2026/11", credit.Period{}, false},
		{"2026-11-01", credit.Period{}, false},
		{" 2026-11", credit.Period{}, false},
		{"+026-11", credit.Period{}, false},
		{"", credit.Period{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := credit.ParsePeriod(tt.in)
			if !tt.ok {
				require.Error(t, err)
				assert.True(t, errors.Is(err, credit.ErrPeriod))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.in, got.String())
		})
	}
}

func TestPeriodArithmetic(t *testing.T) {
	dec := credit.Period{Year: 2026, Month: time.December}
	jan := credit.Period{Year: 2027, Month: time.January}
	assert.Equal(t, jan, dec.Next())
	assert.Equal(t, dec, jan.Prev())
	assert.True(t, dec.Before(jan))
	assert.False(t, jan.Before(dec))
	assert.False(t, dec.Before(dec))
	assert.Equal(t, "", credit.Period{}.String())
	assert.True(t, credit.Period{}.IsZero())
}

func TestPeriodBoundsAcrossDST(t *testing.T) {
	tests := []struct {
		period string
		hours  float64
	}{
		{"2026-03", 31*24 - 1}, // spring forward: a night of 23 hours
		{"2026-10", 31*24 + 1}, // fall back: a night of 25 hours
		{"2026-11", 30 * 24},
		{"2028-02", 29 * 24},
	}
	for _, tt := range tests {
		p, err := credit.ParsePeriod(tt.period)
		require.NoError(t, err)
		assert.Equal(t, tt.hours, p.End(brussels).Sub(p.Start(brussels)).Hours(), tt.period)
	}
	// The boundary is local midnight, not UTC midnight.
	assert.Equal(t, "2026-10", credit.PeriodOf(at("2026-10-31 23:59"), brussels).String())
	assert.Equal(t, "2026-11", credit.PeriodOf(at("2026-11-01 00:00"), brussels).String())
	assert.Equal(t, "2026-10", credit.PeriodOf(at("2026-11-01 00:00"), time.UTC).String())
}

func TestPeriodJSON(t *testing.T) {
	type wrap struct {
		P credit.Period `json:"p"`
	}
	b, err := json.Marshal(wrap{credit.Period{Year: 2026, Month: time.November}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"p":"2026-11"}`, string(b))
	var w wrap
	require.NoError(t, json.Unmarshal(b, &w))
	assert.Equal(t, credit.Period{Year: 2026, Month: time.November}, w.P)
	assert.Error(t, json.Unmarshal([]byte(`{"p":"2026-13"}`), &w))
}
