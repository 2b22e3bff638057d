package store

import (
	"context"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
)

// CreditStore is the hours crediting's storage: the credit.Ledger's state
// (credit.Store, whose MemberEvents reads the central's events table) and
// what a computation from scratch reads.
//
// Reading a member's events needs an index that starts with the member, and
// such an index in the events table would make every ingest commit write
// one B-tree page per member it holds (on SQLite, about a third of the
// ingest's throughput with taps of 5,000 members). So the backends differ:
//
//   - PostgreSQL indexes the events table on the member and receipt time
//     (its concurrent writers pay less for it, and central replicas sharing
//     the ingest all see it); Track does nothing there.
//   - SQLite keeps a separate index table of the events' keys by member,
//     filled by Track off the ingest's path, in large transactions of many
//     commits. MemberEvents sees an event once Track has recorded it.
//     StartTracking recovers what a process that stopped without
//     StopTracking may have committed and not tracked.
type CreditStore interface {
	credit.Store

	// StartTracking begins a session of Track calls. When the last
	// session did not end with StopTracking (a crash, or the first start
	// after an upgrade), it tracks every stored event received since the
	// last tracked commit (less a margin for clock steps) and returns them
	// with their door, seq, member and times only, so that the caller can
	// credit them. On PostgreSQL it does nothing.
	StartTracking(ctx context.Context) ([]domain.Event, error)
	// Track records committed events (as the ingest committed them at
	// receivedMs; their stored copy is what is recorded, so duplicates are
	// harmless) for MemberEvents.
	Track(ctx context.Context, receivedMs int64, batches []DoorEvents) error
	// StopTracking ends the session after the last Track.
	StopTracking(ctx context.Context) error

	// WindowEvents returns every stored event whose door time or receipt
	// time lies in [fromMs, toMs), whole, in no particular order: the input
	// of credit.Compute over credit.EventWindow. It reads the whole table.
	WindowEvents(ctx context.Context, fromMs, toMs int64) ([]domain.Event, error)
}
