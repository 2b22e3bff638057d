package billing_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/credit"
)

// TestNotifyAfterCommit: Config.Notify gets the documents of an issue once
// they are committed (the store already serves them), and the credit note
// of a void the same way; it is not called when nothing was issued or the
// issue or the void failed.
func TestNotifyAfterCommit(t *testing.T) {
	m := newMonthTB(t, 12, 600)
	ctx, p := m.ctx, m.net.Period
	var calls [][]billing.Issued
	var storedThen []billing.Issued
	svc := billing.NewService(billing.Config{Store: m.st.Billing(), Ledger: m.mem, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return m.now },
		Notify: func(ctx context.Context, docs []billing.Issued) {
			calls = append(calls, docs)
			var err error
			storedThen, err = m.st.Billing().Documents(ctx, billing.DocumentFilter{Period: p})
			require.NoError(t, err)
		}})
	docs, _, err := svc.Issue(ctx, p)
	require.NoError(t, err)
	require.NotEmpty(t, docs)
	require.Len(t, calls, 1)
	assert.Equal(t, docs, calls[0])
	assert.Len(t, storedThen, len(docs), "committed before Notify")

	_, _, err = svc.Issue(ctx, p) // nothing new
	require.NoError(t, err)
	_, _, err = svc.Issue(ctx, p.Next()) // not closed
	require.ErrorIs(t, err, credit.ErrNotClosed)
	assert.Len(t, calls, 1)

	var inv billing.Issued
	for _, d := range docs {
		if d.MemberID != "" && !d.Doc.IsCreditNote() {
			inv = d
			break
		}
	}
	require.NotEmpty(t, inv.Number, "a member's invoice to void")
	cn, err := svc.Void(ctx, inv.Issuer, inv.Number)
	require.NoError(t, err)
	require.Len(t, calls, 2)
	assert.Equal(t, []billing.Issued{cn}, calls[1])
	assert.True(t, calls[1][0].Doc.IsCreditNote())
	assert.Equal(t, inv.MemberID, calls[1][0].MemberID)
	assert.Contains(t, storedThen, cn, "committed before Notify")
	_, err = svc.Void(ctx, inv.Issuer, inv.Number) // voided already
	require.Error(t, err)
	assert.Len(t, calls, 2)
}
