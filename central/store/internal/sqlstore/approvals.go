package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// ApproveSettlement implements store.ApprovalStore. The credit_state row is
// locked first, as a close locks it.
func (c *creditStore) ApproveSettlement(ctx context.Context, a store.SettlementApproval) (store.SettlementApproval, error) {
	if a.Period.IsZero() {
		return a, store.Errf(store.ErrNotFound, "period", "no period")
	}
	if a.ApprovedBy == "" || len(a.ApprovedBy) > 200 || len(a.ApprovedByName) > 200 {
		return a, &domain.FieldError{Field: "approved_by", Message: "required, at most 200 bytes (and a name of at most 200)"}
	}
	if a.ApprovedMs == 0 {
		a.ApprovedMs = c.db.now().UnixMilli()
	}
	err := c.db.write(ctx, func(t *wtx) error {
		if _, err := c.lockLastClosed(ctx, t); err != nil {
			return err
		}
		var b []byte
		err := t.queryRow(ctx, `SELECT settlement FROM credit_closed WHERE period = ?`, a.Period.String()).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			return store.Errf(store.ErrNotFound, "period", "period %s is not closed", a.Period)
		}
		if err != nil {
			return fmt.Errorf("approve %s: %w", a.Period, err)
		}
		var s credit.Settlement
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("approve %s: decode settlement: %w", a.Period, err)
		}
		a.TotalCents, a.Currency = s.TotalCents, s.Currency
		if _, err := t.exec(ctx, `INSERT INTO settlement_approvals (period, approved_by, approved_by_name, approved_ms, total_cents, currency) VALUES (?, ?, ?, ?, ?, ?)`,
			a.Period.String(), a.ApprovedBy, a.ApprovedByName, a.ApprovedMs, a.TotalCents, a.Currency); err != nil {
			return c.db.mapErr(err, "approval of "+a.Period.String(), "period")
		}
		centers := []string{""}
		for _, l := range s.Centers {
			centers = append(centers, l.CenterID)
		}
		return t.audit(ctx, audit.Approve, audit.ObjectPeriod, a.Period.String(), centers,
			map[string]any{"period": a.Period.String(), "approved": false}, a)
	})
	if err != nil {
		return store.SettlementApproval{}, err
	}
	return a, nil
}

// SettlementApproval implements store.ApprovalStore.
func (c *creditStore) SettlementApproval(ctx context.Context, p credit.Period) (store.SettlementApproval, error) {
	a := store.SettlementApproval{Period: p}
	err := c.db.queryRow(ctx, `SELECT approved_by, approved_by_name, approved_ms, total_cents, currency FROM settlement_approvals WHERE period = ?`,
		p.String()).Scan(&a.ApprovedBy, &a.ApprovedByName, &a.ApprovedMs, &a.TotalCents, &a.Currency)
	if err != nil {
		return store.SettlementApproval{}, c.db.mapErr(err, "approval of "+p.String(), "period")
	}
	return a, nil
}
