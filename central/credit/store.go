package credit

import (
	"context"
	"errors"

	"github.com/smartworkcenters/swc/central/domain"
)

// Errors of the Store contract and of the Ledger.
var (
	// ErrStale: a Commit or Close was computed against a LastClosed that
	// has changed since (another closer won). The Ledger recomputes and retries.
	ErrStale = errors.New("credit: last closed period changed")
	// ErrFrozen: a Commit tried to change a closed period's results or book
	// an adjustment in a closed period.
	ErrFrozen = errors.New("credit: period is closed")
	// ErrNotClosed: no frozen settlement for the period.
	ErrNotClosed = errors.New("credit: period is not closed")
	// ErrCloseOrder: periods close one after the other, each after its end.
	ErrCloseOrder = errors.New("credit: periods close in order")
	// ErrPeriodNotOver: a period cannot close before it ends.
	ErrPeriodNotOver = errors.New("credit: period has not ended")
	// ErrAlreadyClosed: the period is closed already.
	ErrAlreadyClosed = errors.New("credit: period already closed")
)

// Store is what the Ledger persists. The central implements it on SQLite
// and PostgreSQL; MemStore implements it in memory. Each method is one
// transaction; Save and Close are atomic and check LastClosed inside their
// transaction. Conformance tests for implementations are in
// central/credit/credittest.
//
// What is stored, per table the implementation chooses:
//   - member results: one MemberPeriod per (member id, period) of an open
//     period, replaced whole by Save; frozen (never replaced) once the
//     period is closed: they are the closed period's statements;
//   - adjustment sets: the lines of one (member id, belongs-to period,
//     booked-in period), replaced whole by Save while booked-in is open;
//   - closed periods: the last closed period and one frozen Settlement per
//     closed period.
//
// Events are not stored by the Ledger: MemberEvents reads the central's own
// event table (deduplicated on door and seq when it was committed).
type Store interface {
	// MemberEvents returns the stored events whose Member is member ("" for
	// events without a member) and whose TimeMs or ReceivedMs lies in
	// [fromMs, toMs). Each (door, seq) at most once; extra events outside
	// the range are allowed, missing ones are not.
	MemberEvents(ctx context.Context, member string, fromMs, toMs int64) ([]domain.Event, error)
	// EventsOfMembers returns, in one read and in any order, the stored
	// events whose Member is one of members (distinct, none "") and whose TimeMs or
	// ReceivedMs lies in [fromMs, toMs): what MemberEvents returns for
	// each of them. Each (door, seq) at most once; extra events outside
	// the range are allowed, missing ones are not. The Ledger reads the
	// events of many members with it (a member without events then costs
	// no read of its own).
	EventsOfMembers(ctx context.Context, members []string, fromMs, toMs int64) ([]domain.Event, error)
	// LastClosed is the last closed period, or the zero Period.
	LastClosed(ctx context.Context) (Period, error)
	// EarliestPeriod is the earliest period with a stored member result,
	// or the zero Period.
	EarliestPeriod(ctx context.Context) (Period, error)
	// MemberPeriod returns the stored result of a member in a period; an
	// empty one (no visits, no counts) when none is stored.
	MemberPeriod(ctx context.Context, member string, p Period) (MemberPeriod, error)
	// MemberPeriods returns every stored result of the period, sorted by
	// member id.
	MemberPeriods(ctx context.Context, p Period) ([]MemberPeriod, error)
	// Adjustments returns a member's adjustment lines for a closed period,
	// whatever period they are booked in.
	Adjustments(ctx context.Context, member string, belongsTo Period) ([]Adjustment, error)
	// BookedAdjustments returns every adjustment line booked in the period;
	// with member not "", only that member's.
	BookedAdjustments(ctx context.Context, bookedIn Period, member string) ([]Adjustment, error)
	// Save applies a Commit atomically: it fails with ErrStale when
	// LastClosed differs from c.LastClosed, and with ErrFrozen when a
	// result's period or an adjustment set's booked-in period is closed.
	Save(ctx context.Context, c *Commit) error
	// Close freezes s atomically: it fails with ErrStale unless LastClosed
	// equals prev, then stores s as the frozen settlement of s.Period and
	// makes s.Period the last closed period.
	Close(ctx context.Context, prev Period, s *Settlement) error
	// ClosedSettlement returns a frozen settlement, or ErrNotClosed.
	ClosedSettlement(ctx context.Context, p Period) (*Settlement, error)
}

// Commit is one atomic update of the Ledger's state.
type Commit struct {
	// LastClosed is the last closed period the commit was computed against.
	LastClosed Period
	// Results replace the stored (MemberID, Period) results; an empty
	// result (no visits, no counts) deletes the stored one.
	Results []MemberPeriod
	// Adjustments replace the stored lines of (MemberID, BelongsTo, BookedIn).
	Adjustments []AdjustmentSet
}

// AdjustmentSet is the adjustment lines of one member for one closed
// period, booked in one open period.
type AdjustmentSet struct {
	MemberID  string
	BelongsTo Period
	BookedIn  Period
	Lines     []Adjustment
}
