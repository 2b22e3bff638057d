// Package audit is the central's audit log: who changed what, when, with the
// object before and after. Every write of the store records its rows in the
// same database transaction as the change itself, so a change is never
// committed without its audit row nor an audit row without its change.
//
// # Who: the actor in the request context
//
// Whoever authenticates a request puts its Actor into the request context;
// the store reads it back when it writes:
//
//	ctx = audit.WithActor(r.Context(), audit.FromRequest(r, audit.Actor{
//		Kind: audit.KindAPIToken, ID: tk.ID, Name: tk.Name, Role: string(tk.Role), Centers: tk.Centers}))
//
// The API's bearer authentication (central/api) and the dashboard's session
// pages (central/web) do this. A component that writes on its own behalf —
// the crediting closing a period, a door enrolling with a one-time token,
// serve creating the first admin token — names itself:
//
//	ctx = audit.WithSystem(ctx, "crediting")
//
// A write with no actor at all is still recorded, as the system actor
// "unattributed" (never skipped), which an operator can search for.
//
// # What: entries
//
// An Entry is one audited change: the actor, an Action (create, update,
// delete, revoke, ...), the object's kind and id, the centers it concerns
// (an object that moves between centers concerns both; "" is the network,
// for objects of no center) and the object before and after as JSON, with
// secrets redacted by Redact. Inside the store an engineer adding a write
// function records it with one call in the write's transaction (see
// central/store/internal/sqlstore/audit.go):
//
//	t.audit(ctx, audit.Update, audit.ObjectMember, m.ID, centersOf(old, m), old, m)
//
// Reading: store.Store.ListAudit filters by center, actor, object, action
// and time, newest first. WriteCSV exports entries with formula-injection
// protection.
package audit

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"
)

// ActorKind says what kind of principal acted.
type ActorKind string

// Actor kinds.
const (
	KindAPIToken     ActorKind = "api_token"     // an API bearer token (scripts; the dashboard's token login)
	KindStaffAccount ActorKind = "staff_account" // a staff member signed in with a password (issue 16)
	KindMember       ActorKind = "member"        // a member on the booking site (issue 15)
	KindSystem       ActorKind = "system"        // a component of the central acting on its own
)

// Unattributed is the system actor id of a write whose context carried no
// actor. Finding it in the log points at a code path to fix.
const Unattributed = "unattributed"

// Actor is who made a change.
type Actor struct {
	Kind ActorKind `json:"kind"`
	// ID is the token, account or member id; for KindSystem, the
	// component ("crediting", "enrollment", "serve", ...).
	ID      string   `json:"id"`
	Name    string   `json:"name,omitempty"`
	Role    string   `json:"role,omitempty"`
	Centers []string `json:"centers,omitempty"`
	// IP is the client's address (no port); UserAgent an excerpt of at
	// most MaxUserAgent bytes.
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// MaxUserAgent bounds the user agent kept in an audit row.
const MaxUserAgent = 120

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// WithSystem returns ctx carrying the system actor of component.
func WithSystem(ctx context.Context, component string) context.Context {
	return WithActor(ctx, System(component))
}

// System is the actor of a component of the central.
func System(component string) Actor { return Actor{Kind: KindSystem, ID: component} }

// ActorFrom returns the actor of ctx, and whether there is one.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// ActorOr returns the actor of ctx, or the system actor Unattributed.
func ActorOr(ctx context.Context) Actor {
	if a, ok := ActorFrom(ctx); ok {
		return a
	}
	return System(Unattributed)
}

// FromRequest returns a with the request's client address and an excerpt
// of its user agent. The address is the connection's peer (RemoteAddr):
// forwarded-for headers are not trusted here.
func FromRequest(r *http.Request, a Actor) Actor {
	ip := r.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	a.IP = ip
	a.UserAgent = excerpt(r.UserAgent(), MaxUserAgent)
	return a
}

// excerpt cuts s to at most n bytes on a rune boundary, without control
// characters.
func excerpt(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// Action is what was done to the object.
type Action string

// Actions.
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
	// Revoke ends a credential (an API token deleted, or revoked with its
	// center).
	Revoke Action = "revoke"
	// RotateSecret gives a door a new broker secret.
	RotateSecret Action = "rotate_secret"
	// Redeem spends a one-time enrollment token.
	Redeem Action = "redeem"
	// Import creates objects in bulk (one entry per object).
	Import Action = "import"
	// Close closes a crediting period.
	Close Action = "close"
	// Approve approves a closed period's settlement.
	Approve Action = "approve"
)

// Object kinds. Other packages add their own kinds as plain strings (a
// kind is a short lower-case word: "place", "setting", "alert_rule").
const (
	ObjectCenter          = "center"
	ObjectRoom            = "room"
	ObjectDoor            = "door"
	ObjectMember          = "member"
	ObjectBadge           = "badge"
	ObjectBooking         = "booking"
	ObjectPass            = "pass"
	ObjectStaff           = "staff"
	ObjectAPIToken        = "api_token"
	ObjectEnrollmentToken = "enrollment_token"
	ObjectPeriod          = "period"
)

// Entry is one audited change, as stored.
type Entry struct {
	// ID orders entries: a later commit has a higher id.
	ID         int64     `json:"id"`
	At         time.Time `json:"at"`
	Actor      Actor     `json:"actor"`
	Action     Action    `json:"action"`
	ObjectKind string    `json:"object_kind"`
	ObjectID   string    `json:"object_id"`
	// Centers are the centers the change concerns ("" stands for the
	// network: an object of no center).
	Centers []string `json:"centers"`
	// Before and After are the object as JSON, secrets redacted; null
	// before a creation and after a deletion.
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}
