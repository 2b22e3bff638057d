// Package store defines the central service's storage: the Store interface
// that the SQLite (store/sqlite) and PostgreSQL (store/postgres) backends
// implement, the errors they return, and the filters and pages of their list
// methods. The conformance suite in store/storetest holds both to it.
package store

import (
	"context"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Store is the cooperative's source of truth. Every method runs in one
// transaction; a write that succeeds hands one domain.Change per object to the
// Options.Notify function after its commit (tokens, door secrets, events and
// whitelist states are not domain objects and produce none).
//
// Create fails with ErrExists when the id is taken, Update and Delete with
// ErrNotFound when it is not; a reference to a missing object fails with
// ErrMissingRef, a delete of an object others still refer to with ErrInUse,
// and an invalid object with a *domain.FieldError. Errors name the field
// through *Error where one is concerned.
type Store interface {
	// Centers.
	CreateCenter(ctx context.Context, c domain.Center) error
	UpdateCenter(ctx context.Context, c domain.Center) error
	DeleteCenter(ctx context.Context, id string) error
	Center(ctx context.Context, id string) (domain.Center, error)
	ListCenters(ctx context.Context, f CenterFilter) (Page[domain.Center], error)

	// Rooms. A room's center does not change.
	CreateRoom(ctx context.Context, r domain.Room) error
	UpdateRoom(ctx context.Context, r domain.Room) error
	DeleteRoom(ctx context.Context, id string) error
	Room(ctx context.Context, id string) (domain.Room, error)
	ListRooms(ctx context.Context, f RoomFilter) (Page[domain.Room], error)

	// Doors. A door's center does not change; its room is one of that center.
	CreateDoor(ctx context.Context, d domain.Door) error
	UpdateDoor(ctx context.Context, d domain.Door) error
	DeleteDoor(ctx context.Context, id string) error
	Door(ctx context.Context, id string) (domain.Door, error)
	ListDoors(ctx context.Context, f DoorFilter) (Page[domain.Door], error)
	// RotateDoorSecret gives the door a new random broker secret, stores only
	// its hash and returns the secret (the only time it is seen).
	RotateDoorSecret(ctx context.Context, door string) (string, error)
	// VerifyDoorSecret returns nil when secret is the door's current broker
	// secret and ErrBadCredentials otherwise (unknown door, no secret, wrong
	// secret alike).
	VerifyDoorSecret(ctx context.Context, door, secret string) error
	// AuthenticateDoor is VerifyDoorSecret under the name the broker's
	// authentication hook asks for.
	AuthenticateDoor(ctx context.Context, door, secret string) error

	// Members.
	CreateMember(ctx context.Context, m domain.Member) error
	UpdateMember(ctx context.Context, m domain.Member) error
	DeleteMember(ctx context.Context, id string) error
	Member(ctx context.Context, id string) (domain.Member, error)
	ListMembers(ctx context.Context, f MemberFilter) (Page[domain.Member], error)

	// Badges, keyed by UID: a UID belongs to one badge (ErrExists, field uid).
	// AddedBy is set at creation and kept by UpdateBadge.
	CreateBadge(ctx context.Context, b domain.Badge) error
	UpdateBadge(ctx context.Context, b domain.Badge) error
	DeleteBadge(ctx context.Context, uid protocol.UID) error
	Badge(ctx context.Context, uid protocol.UID) (domain.Badge, error)
	ListBadges(ctx context.Context, f BadgeFilter) (Page[domain.Badge], error)
	// SetBadgeCredential records what a personalisation station made of a
	// badge: its card type and key version (UpdateBadge keeps them).
	SetBadgeCredential(ctx context.Context, uid protocol.UID, card protocol.CardType, keyVersion uint8) error
	// CountBadgeCredentials counts the badges that are not revoked, per
	// home center of their member ("" for the cooperative's nomadic members)
	// and secure or UID-only, for the dashboard.
	CountBadgeCredentials(ctx context.Context) ([]BadgeCredentialCount, error)

	// Bookings. A confirmed booking of a room must not overlap another
	// confirmed booking of that room (ErrOverlap). Create and import store
	// the booking's CreatedBy as given (the caller sets it from who asked);
	// UpdateBooking never changes it: the stored creator is kept.
	CreateBooking(ctx context.Context, b domain.Booking) error
	UpdateBooking(ctx context.Context, b domain.Booking) error
	DeleteBooking(ctx context.Context, id string) error
	Booking(ctx context.Context, id string) (domain.Booking, error)
	ListBookings(ctx context.Context, f BookingFilter) (Page[domain.Booking], error)
	// ImportBookings creates every booking or none. When a row is wrong it
	// returns an *ImportError listing the rows (1-based) and why, and stores
	// nothing; otherwise it returns how many were created and notifies one
	// change per booking (all at once through Options.NotifyAll when set).
	ImportBookings(ctx context.Context, bookings []domain.Booking) (int, error)

	// Import creates every object of the bundle or none (bundle.go), in one
	// transaction. Every object is validated, and checked against the
	// others and the stored ones: a duplicate within the bundle, an id
	// already stored (a second import of the same bundle is refused, object
	// by object, with code "exists": imports are not idempotent), a
	// reference to an object that is neither in the bundle nor stored.
	// When anything is wrong it returns an *ImportError listing every
	// object (RowError.List and Row, 1-based within its list) and stores
	// nothing. Each created object is audited (audit.Import) and notified,
	// all at once through Options.NotifyAll when it is set.
	Import(ctx context.Context, b Bundle, o ImportOptions) (ImportResult, error)

	// Passes.
	CreatePass(ctx context.Context, p domain.Pass) error
	UpdatePass(ctx context.Context, p domain.Pass) error
	DeletePass(ctx context.Context, id string) error
	Pass(ctx context.Context, id string) (domain.Pass, error)
	ListPasses(ctx context.Context, f PassFilter) (Page[domain.Pass], error)

	// Staff assignments, keyed by (member, center); center "" is the network.
	AddStaff(ctx context.Context, s domain.Staff) error
	RemoveStaff(ctx context.Context, s domain.Staff) error
	ListStaff(ctx context.Context, f StaffFilter) (Page[domain.Staff], error)

	// AppendEvents stores events of a door's store without identity ("")
	// idempotently on (door, store, seq) in one transaction and returns how
	// many were new and the store's sequence state after it (Through is what
	// the ingest acknowledges). Duplicates are not an error; the same seq
	// with other content is ErrConflict (see DoorEvents). Every event is
	// validated; an invalid one fails the whole call.
	AppendEvents(ctx context.Context, door string, receivedMs int64, events []protocol.Event) (AppendResult, error)
	// AppendBatches is AppendEvents for several doors' batches in ONE
	// transaction (the ingest gathers the batches that arrive within a few
	// milliseconds: one commit for all of them is most of the speed-up).
	// Results are in the order of batches; one invalid or conflicting batch
	// fails all, with a *BatchError naming it. Batches of the same store are
	// applied in order (a result's Through may already count later batches
	// of the same store in the call). At most MaxBatches batches.
	AppendBatches(ctx context.Context, receivedMs int64, batches []DoorEvents) ([]AppendResult, error)
	// EventSeq returns the door's sequence state summed over its stores
	// (zero for a door without events).
	EventSeq(ctx context.Context, door string) (SeqState, error)
	// EventGaps lists up to limit ranges of sequence numbers missing between
	// a store's high-water mark and its highest stored event, for each of the
	// door's stores.
	EventGaps(ctx context.Context, door string, limit int) ([]SeqRange, error)
	// ListEvents returns stored events, by event time then door and seq.
	ListEvents(ctx context.Context, f EventFilter) (Page[domain.Event], error)

	// WhitelistStates returns the persisted whitelist state of every door.
	WhitelistStates(ctx context.Context) ([]domain.WhitelistState, error)
	// SaveWhitelistState stores a door's whitelist state. The version never
	// goes back (ErrStale), and a version is saved again only with the same
	// hash.
	SaveWhitelistState(ctx context.Context, st domain.WhitelistState) error
	// SaveWhitelistStates stores several doors' states in one transaction,
	// each as SaveWhitelistState would: all of them, or none (the error
	// names the door).
	SaveWhitelistStates(ctx context.Context, sts []domain.WhitelistState) error

	// API tokens. Only a hash of the secret is kept.
	CreateToken(ctx context.Context, t Token, secret string) error
	// AuthenticateToken returns the token whose secret this is, or
	// ErrBadCredentials.
	AuthenticateToken(ctx context.Context, secret string) (Token, error)
	DeleteToken(ctx context.Context, id string) error
	ListTokens(ctx context.Context, f TokenFilter) (Page[Token], error)
	// CountTokens returns how many tokens exist (serve creates the first
	// admin token when there is none).
	CountTokens(ctx context.Context) (int, error)
	// Token returns the token with this id (ErrNotFound).
	Token(ctx context.Context, id string) (Token, error)

	// Sessions returns the web sessions' storage in the same database.
	// DeleteToken ends the sessions of its token in the same transaction.
	Sessions() SessionStore

	// MemberAuth returns the members' sign-in state (codes, limits,
	// passkeys) in the same database (memberauth.go).
	MemberAuth() MemberAuthStore

	// Credit returns the hours crediting's storage in the same database.
	Credit() CreditStore

	// Outbox returns the durable e-mail outbox in the same database.
	Outbox() OutboxStore
	// Health returns the door health and alerts storage in the same
	// database (health.go).
	Health() HealthStore
	// Network settings, versioned (settings.go).
	SettingsStore
	// Places returns the booking site's storage in the same database.
	Places() PlaceStore
	// Site returns the booking site's feed tokens and booking revisions.
	Site() SiteStore
	// CheckIns returns the bookings' check-ins and the release of room
	// no-shows in the same database (checkin.go).
	CheckIns() CheckInStore
	// StaffAccounts returns the staff accounts' storage (staffaccount.go).
	StaffAccounts() StaffAccountStore
	// DoorCerts returns the record of issued door certificates and their
	// revocations, for the door CA's revocation list (doorcert.go).
	DoorCerts() DoorCertStore
	// Billing returns the billing's prices, details and issued documents
	// (billing.go).
	Billing() BillingStore

	// Enrollment tokens (one-time, with an expiry; only a hash of the secret
	// is kept) and the key each door enrolled with.
	//
	// CreateEnrollmentToken stores a new token for an existing door
	// (ErrMissingRef, field door).
	CreateEnrollmentToken(ctx context.Context, e EnrollmentToken, secret string) error
	// RedeemEnrollment uses the token whose secret this is, in one
	// transaction: it must exist (ErrBadCredentials), be unused
	// (ErrTokenUsed) and not expired at key.EnrolledMs (ErrTokenExpired);
	// it is then marked used and key becomes the door's enrolled key
	// (replacing an earlier one; the recorded certificates of the door's
	// other keys are superseded, DoorCertStore). It returns the token,
	// with the door.
	RedeemEnrollment(ctx context.Context, secret string, key DoorKey) (EnrollmentToken, error)
	// CheckEnrollment returns the token whose secret this is without
	// spending it, with RedeemEnrollment's errors for a token that is
	// unknown, used or expired at atMs: enrollment checks a request against
	// the token's door before it redeems the token.
	CheckEnrollment(ctx context.Context, secret string, atMs int64) (EnrollmentToken, error)
	// DoorKey returns the key the door enrolled with (ErrNotFound when it
	// never enrolled).
	DoorKey(ctx context.Context, door string) (DoorKey, error)

	// ListAudit reads the audit log (package audit): every write method
	// above records its changes there in its own transaction, with the
	// actor of the context (audit.WithActor).
	ListAudit(ctx context.Context, f AuditFilter) (Page[audit.Entry], error)

	// Close releases the database.
	Close() error
}

// Notifier receives a change after the store committed it. It runs in the
// writer's goroutine, so it must be quick and must not call back into a
// write of the store.
type Notifier func(ctx context.Context, ch domain.Change)

// Options configure a backend.
type Options struct {
	// Notify, when set, receives every committed change.
	Notify Notifier
	// NotifyAll, when set, receives the changes of a bulk write
	// (Import) in one call instead of Notify once per change.
	NotifyAll BatchNotifier
}

// MaxBatches bounds the batches of one AppendBatches call.
const MaxBatches = 5000

// DoorEvents are events of one door's store, as one EventBatch carries
// them.
//
// Event identity: an event is identified by (door, store, seq), where store
// is the identity of the door database that numbered it ("" for doors from
// before store identities). Each (door, store) is a stream numbered from 1,
// with its own high-water mark (what the ingest acknowledges to that store).
// The first time the central sees a stream it gives it the door's next
// slot (0 for the store ""), and keeps its events under the central's
// number slot×2^32 + seq (AppendResult.Base + seq; protocol.MaxSeq keeps seq
// below 2^32): unique per door, so that everything that reads events by
// (door, seq), crediting included, sees each event of each store once.
//
// A (door, store, seq) held with other content is a conflict, not a
// duplicate (ErrConflict): acknowledging it would make the door delete an
// event the central does not have.
type DoorEvents struct {
	Door   string
	Store  string
	Events []protocol.Event // the store's seqs
}

// StreamKey names one store of one door.
type StreamKey struct {
	Door  string
	Store string
}

// AppendResult is what AppendEvents did.
type AppendResult struct {
	New      int    // events that were not stored before
	Base     uint64 // the central's number of the store's seq 0: events are kept as (door, Base+seq)
	SeqState        // the store's sequence state (the store's seqs)
}

// SeqState is a stream's event sequence as stored: Through is the highest
// seq such that every seq from 1 to it is stored; Max is the highest stored
// seq. Max > Through means events are missing (see EventGaps). For a whole
// door (EventSeq) both are sums over the door's stores.
type SeqState struct {
	Through uint64 `json:"through"`
	Max     uint64 `json:"max"`
}

// SeqRange is an inclusive range of sequence numbers of one store.
type SeqRange struct {
	Store string `json:"store,omitempty"`
	From  uint64 `json:"from"`
	To    uint64 `json:"to"`
}

// Limits on list pages.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// PageRequest asks for up to Limit items after the cursor After (the Next of
// the previous page; "" for the first page). Limit 0 means DefaultLimit;
// above MaxLimit it is clamped.
type PageRequest struct {
	After string
	Limit int
}

// Size returns the effective limit.
func (p PageRequest) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// Page is one page of a list. Next is the cursor of the following page, ""
// on the last one.
type Page[T any] struct {
	Items []T
	Next  string
}

// CenterFilter selects centers; IDs nil means all.
type CenterFilter struct {
	IDs []string
	PageRequest
}

// RoomFilter selects rooms; CenterIDs nil means every center.
type RoomFilter struct {
	CenterIDs []string
	PageRequest
}

// DoorFilter selects doors.
type DoorFilter struct {
	CenterIDs []string
	RoomID    string
	PageRequest
}

// MemberFilter selects members. HomeCenterIDs nil means any home; Nomadic
// keeps only members of the cooperative.
type MemberFilter struct {
	HomeCenterIDs []string
	Nomadic       bool
	Status        string
	PageRequest
}

// BadgeCredentialCount is how many badges of one home center are secure
// and how many are still UID-only.
type BadgeCredentialCount struct {
	Center  string // home center of their members; "" for the cooperative
	Secure  int
	UIDOnly int
}

// BadgeFilter selects badges; HomeCenterIDs keeps badges of local members of
// those centers.
type BadgeFilter struct {
	MemberID      string
	HomeCenterIDs []string
	Revoked       *bool
	AddedBy       string // the API token that added them ("": any)
	PageRequest
}

// BookingFilter selects bookings; From and To (either may be zero) keep
// bookings that overlap [From, To). CenterIDs and MemberIDs, when not nil,
// keep the bookings of one of theirs (an empty list keeps none); MemberIDs
// may be long (the bookings of a batch of door taps' members).
type BookingFilter struct {
	CenterIDs []string
	MemberID  string
	MemberIDs []string
	RoomID    string
	Status    string
	From, To  time.Time
	PageRequest
}

// PassFilter selects passes. CoversCenter keeps passes valid at that center
// (listing it, or covering every center); ValidAt keeps passes valid then.
type PassFilter struct {
	MemberID     string
	CoversCenter string
	ValidAt      time.Time
	PageRequest
}

// StaffFilter selects staff assignments. CenterIDs may contain "" for
// network-wide staff.
type StaffFilter struct {
	MemberID  string
	CenterIDs []string
	PageRequest
}

// EventFilter selects events; From and To (either may be zero) bound the
// event's time [From, To).
type EventFilter struct {
	Door      string
	CenterIDs []string
	MemberID  string
	Kind      protocol.EventKind
	From, To  time.Time
	// UID and Reason select one badge's events and one decision's (the
	// console's event search).
	UID    protocol.UID
	Reason protocol.Reason
	// LateMs, when > 0, selects the late events: received by the central
	// at least LateMs after their door time (ReceivedMs − TimeMs ≥
	// LateMs), such as those a door kept in its outbox while offline.
	LateMs int64
	PageRequest
}

// TokenFilter selects tokens.
type TokenFilter struct {
	PageRequest
}

// All reads every page of a list, such as
//
//	store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
//		return st.ListDoors(ctx, store.DoorFilter{PageRequest: p})
//	})
func All[T any](ctx context.Context, list func(PageRequest) (Page[T], error)) ([]T, error) {
	var out []T
	p := PageRequest{Limit: MaxLimit}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := list(p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		p.After = page.Next
	}
}
