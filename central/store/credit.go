package store

import (
	"context"
	"errors"

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

	// PostingCursor is the crediting leader's cursor over the stored
	// events, for replicas sharing a PostgreSQL store (see PostingCursor).
	PostingCursor

	// WindowEvents returns every stored event whose door time or receipt
	// time lies in [fromMs, toMs), whole, in no particular order: the input
	// of credit.Compute over credit.EventWindow. It reads the whole table.
	WindowEvents(ctx context.Context, fromMs, toMs int64) ([]domain.Event, error)
}

// PostingCursor lets exactly one replica (the crediting leader) post every
// event any replica stored to the hours ledger, none skipped although
// replicas commit concurrently, in any order. PostgreSQL implements it over
// the inserting transaction of each event (a sequence would skip an event
// whose transaction took a lower id but committed after a higher one was
// read); SQLite, one process whose commits are serialized and whose
// crediting reads the ingest's commits, returns errors.ErrUnsupported.
//
// Positions are opaque, grow, and start at 0.
type PostingCursor interface {
	// EventsFrom returns, read in one snapshot, every stored event written
	// at or after position from (door, seq, member and times only), in
	// read.Events, and read.Next: no event written below it remains
	// unreturned by this call or an earlier one from a lower position.
	// Events at or after Next may be returned again by the next call (from
	// Next): the caller ignores what it already has.
	EventsFrom(ctx context.Context, from int64) (PostingRead, error)
	// PostingHorizon returns a position below which lies every event
	// committed before the call.
	PostingHorizon(ctx context.Context) (int64, error)
	// Unposted reports whether an event of a member written below horizon
	// is not in the recorded posted read (SetPosted): what a read waits
	// for the leader to post.
	Unposted(ctx context.Context, horizon int64) (bool, error)
	// Posted returns the leader's positions: posted, the Next of the last
	// read whose events of members are all in the ledger, and resume,
	// below which every event is credited (members' and doors'), where a
	// new leader starts.
	Posted(ctx context.Context) (posted, resume int64, err error)
	// SetPosted records that every event of a member of read (and of the
	// reads before it) is in the ledger, and the resume position. Neither
	// goes back.
	SetPosted(ctx context.Context, read PostingRead, resume int64) error
	// TakeLead raises and returns the leader epoch: the ledger's writes
	// made with a context of WithLeaderEpoch and an older epoch then fail
	// with ErrNotLeader.
	TakeLead(ctx context.Context) (int64, error)
	// RebuiltBy returns the build recorded by SetRebuiltBy ("" for none).
	RebuiltBy(ctx context.Context) (string, error)
	// SetRebuiltBy records the build whose rules rebuilt the open periods.
	SetRebuiltBy(ctx context.Context, build string) error
}

// PostingRead is one read of the posting cursor: the events, the position
// of the next read, and the snapshot the read saw (opaque).
type PostingRead struct {
	Events   []domain.Event
	Next     int64
	Snapshot string
}

// ErrNotLeader: a write of the hours ledger was made for a crediting leader
// whose epoch is past (another replica took the lead since).
var ErrNotLeader = errors.New("no longer the crediting leader")

type leaderEpochKey struct{}

// WithLeaderEpoch returns a context whose writes of the hours ledger
// (credit.Store's Save) check that epoch is still the leader epoch
// (PostingCursor.TakeLead).
func WithLeaderEpoch(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, leaderEpochKey{}, epoch)
}

// LeaderEpoch returns the epoch of WithLeaderEpoch, if any.
func LeaderEpoch(ctx context.Context) (int64, bool) {
	e, ok := ctx.Value(leaderEpochKey{}).(int64)
	return e, ok
}
