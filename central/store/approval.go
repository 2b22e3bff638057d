package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/credit"
)

// SettlementApproval is an administrator's approval of a closed period's
// settlement (issue 16's settlement workflow): who approved it, when, and
// the total approved with its currency. A period is approved once.
type SettlementApproval struct {
	Period         credit.Period `json:"period"`
	ApprovedBy     string        `json:"approved_by"` // the actor's id (an API token or a staff account)
	ApprovedByName string        `json:"approved_by_name,omitempty"`
	ApprovedMs     int64         `json:"approved_ms"`
	TotalCents     int64         `json:"total_cents"`
	Currency       string        `json:"currency,omitempty"`
}

// ApprovalStore keeps the approvals of closed settlements (part of
// CreditStore: Store.Credit()).
type ApprovalStore interface {
	// ApproveSettlement records the approval of a.Period in one
	// transaction, audited as an approve of the period: the period must be
	// closed (ErrNotFound, field period, when it is not) and not approved
	// yet (ErrExists). TotalCents and Currency are taken from the frozen
	// settlement; ApprovedMs is set when 0. It returns the approval as
	// stored.
	ApproveSettlement(ctx context.Context, a SettlementApproval) (SettlementApproval, error)
	// SettlementApproval returns the period's approval (ErrNotFound when
	// it is not approved).
	SettlementApproval(ctx context.Context, p credit.Period) (SettlementApproval, error)
}
