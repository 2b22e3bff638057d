package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
)

// CreditStore is the hours crediting's storage: the credit.Ledger's state
// (credit.Store, whose MemberEvents reads the central's events table), the
// bookkeeping that lets the crediting resume after a crash without losing
// an event, and what a computation from scratch reads.
//
// Reading a member's events needs an index that starts with the member, and
// such an index in the events table makes every ingest commit write one
// B-tree page per member it holds. Measured with BenchmarkAppendBatchesMembers
// (taps of 5,000 members) on the development machine, it cut SQLite's
// ingest to about a third (some 120,000 to 40,000 events/s) and
// PostgreSQL's by about a third. So the backends differ:
//
//   - PostgreSQL indexes the events table on the member and receipt time:
//     central replicas sharing the ingest all see every event at once, and
//     their commits run concurrently; Track does nothing there.
//   - SQLite keeps a separate index table of the events' keys by member,
//     filled by Track off the ingest's path, in large transactions of many
//     commits. MemberEvents sees an event once Track has recorded it.
type CreditStore interface {
	credit.Store
	// ApprovalStore keeps the approvals of closed settlements (approval.go).
	ApprovalStore

	// StartTracking begins a crediting session. When the last session did
	// not end with StopTracking (a crash; or the first start on a
	// database, which may hold events from before the crediting), it
	// returns every stored event received since the last MarkCredited
	// (less a margin for clock steps) with its door, seq, member and times
	// only, and tracks them, so that the caller credits them again.
	StartTracking(ctx context.Context) ([]domain.Event, error)
	// Track records committed events for MemberEvents: their stored copy
	// (duplicates and events already tracked are harmless).
	Track(ctx context.Context, batches []DoorEvents) error
	// MarkCredited records that every event committed before receivedMs
	// has been tracked and credited.
	MarkCredited(ctx context.Context, receivedMs int64) error
	// StopTracking ends the session after the last MarkCredited.
	StopTracking(ctx context.Context) error

	// WindowEvents returns every stored event whose door time or receipt
	// time lies in [fromMs, toMs), whole, in no particular order: the input
	// of credit.Compute over credit.EventWindow. It reads the whole table.
	WindowEvents(ctx context.Context, fromMs, toMs int64) ([]domain.Event, error)
}
