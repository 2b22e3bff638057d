package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// frozen is a closed settlement of p with c1's line, as the ledger
// freezes it.
func frozen(p credit.Period) *credit.Settlement {
	return &credit.Settlement{Period: p, TimeZone: "Europe/Brussels", Closed: true, Currency: "EUR", Rounding: credit.RoundingRule,
		Centers:     []credit.CenterLine{{CenterID: "c1", RateCents: 400, NomadicMinutes: 120, AmountCents: 800, TotalCents: 800}},
		CrossCenter: []credit.CrossCenterLine{}, Adjustments: []credit.AdjustmentLine{}, TotalCents: 800}
}

// testSettlementApprovals: only a closed period is approved, once, with
// its frozen total and currency.
func testSettlementApprovals(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	cs := s.Credit()
	oct, nov := period(2026, 10), period(2026, 11)
	_, err := cs.ApproveSettlement(ctx, store.SettlementApproval{Period: oct, ApprovedBy: "tk1"})
	requireKind(t, err, store.ErrNotFound, "period")
	_, err = cs.SettlementApproval(ctx, oct)
	requireKind(t, err, store.ErrNotFound, "period")

	require.NoError(t, cs.Close(ctx, credit.Period{}, frozen(oct)))
	_, err = cs.ApproveSettlement(ctx, store.SettlementApproval{Period: oct})
	requireKind(t, err, domain.ErrValidation, "approved_by")
	a, err := cs.ApproveSettlement(ctx, store.SettlementApproval{Period: oct, ApprovedBy: "tk1", ApprovedByName: "Admin", ApprovedMs: 1_800_000_000_000, TotalCents: 1})
	require.NoError(t, err)
	want := store.SettlementApproval{Period: oct, ApprovedBy: "tk1", ApprovedByName: "Admin", ApprovedMs: 1_800_000_000_000, TotalCents: 800, Currency: "EUR"}
	require.Equal(t, want, a, "the total is the frozen settlement's")
	got, err := cs.SettlementApproval(ctx, oct)
	require.NoError(t, err)
	require.Equal(t, want, got)
	_, err = cs.ApproveSettlement(ctx, store.SettlementApproval{Period: oct, ApprovedBy: "tk2"})
	requireKind(t, err, store.ErrExists, "period")
	_, err = cs.ApproveSettlement(ctx, store.SettlementApproval{Period: nov, ApprovedBy: "tk1"})
	requireKind(t, err, store.ErrNotFound, "period")
}
