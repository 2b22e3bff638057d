package store

import (
	"context"
	"time"

	"github.com/smartworkcenters/swc/central/billing"
)

// BillingStore keeps the billing domain's prices, billing details and
// issued documents (issue 19; package billing says what they mean).
type BillingStore interface {
	// AddPrice stores a new version of a price, audited as a create of
	// the price: it must Validate (*domain.FieldError), name an existing
	// center and room (ErrMissingRef), not repeat a version (ErrExists,
	// field valid_from) and not start in or before a period already
	// invoiced (ErrStale, field valid_from). CreatedMs is set when 0.
	AddPrice(ctx context.Context, p billing.Price) error
	// Prices returns every version of every price, sorted by key and
	// validity.
	Prices(ctx context.Context) (billing.Prices, error)

	// SetDetails creates or replaces a party's billing details, audited
	// (create or update, before and after): they must Validate
	// (*domain.FieldError) and name an existing member or center
	// (ErrMissingRef, field id). UpdatedMs is set.
	SetDetails(ctx context.Context, d billing.Details) error
	// Details returns a party's details (ErrNotFound).
	Details(ctx context.Context, kind billing.PartyKind, id string) (billing.Details, error)
	// AllDetails returns every party's details, by kind and id.
	AllDetails(ctx context.Context) ([]billing.Details, error)

	// IssueDocuments numbers and stores drafts in one transaction: for
	// each draft, in order, it takes the next number of (issuer, year of
	// the issue date) from the counter row, calls finish with it, and
	// inserts what finish returns, audited as a create of the document.
	// Everything is rolled back when one fails: a draft issued before
	// (same period, subject and purpose: ErrExists, field purpose), an
	// error of finish. Numbers are therefore gapless per issuer and year,
	// even under concurrent issues.
	IssueDocuments(ctx context.Context, drafts []billing.Draft, finish func(d billing.Draft, seq int64) (billing.Issued, error)) ([]billing.Issued, error)
	// Documents lists issued documents (with Model and UBL) by issuer and
	// number; a zero filter lists all.
	Documents(ctx context.Context, f billing.DocumentFilter) ([]billing.Issued, error)
	// Document returns one issued document (ErrNotFound).
	Document(ctx context.Context, issuer, number string) (billing.Issued, error)

	// AddPack stores an hour pack sold to a member, audited as a create
	// of the pack: it must Validate (*domain.FieldError), name an existing
	// member (ErrMissingRef, field member_id), have a new id (ErrExists)
	// and not start in or before a period already invoiced (ErrStale,
	// field valid_from). Issuer is set from the member's home (the
	// cooperative for a nomadic member); CreatedMs when 0.
	AddPack(ctx context.Context, p billing.Pack) error
	// Packs returns the hour packs of a member ("": every member's) with
	// their uses, by member, start and id. IssueDocuments records the
	// uses of each draft (Draft.PackUses) with its document, each audited
	// as an update of its pack, and refuses (ErrStale, field pack_uses)
	// a use beyond what the pack holds.
	Packs(ctx context.Context, member string) ([]billing.Pack, error)
	// RoomBookings returns the room bookings that start in [from, to),
	// of every status, with their member's home center, by start.
	RoomBookings(ctx context.Context, from, to time.Time) ([]billing.RoomBooking, error)
}
