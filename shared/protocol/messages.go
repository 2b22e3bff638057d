package protocol

import (
	"fmt"
	"strings"
	"time"
)

// Version is the protocol version carried in every message's "v" field.
const Version = 1

// Limits on message contents. MaxMessageSize bounds every payload on every
// topic; brokers are configured with the same limit.
const (
	MaxMessageSize    = 256 << 10 // bytes
	MaxBatchEvents    = 500
	MaxGrantsPerEntry = 64
	MaxUnlockSeconds  = 30
	// MaxHeldOpenSeconds bounds Whitelist.HeldOpenS (a day).
	MaxHeldOpenSeconds = 24 * 60 * 60
	maxTextLen         = 256
)

// Bounds for times carried as Unix milliseconds.
var (
	// minSignedMs is the earliest issued-at or expiry accepted on a signed message.
	minSignedMs = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	// maxMs is the latest time accepted anywhere.
	maxMs = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
)

// EventKind is what happened at a door.
type EventKind string

// Event kinds.
const (
	EventTap          EventKind = "tap"            // a badge was presented; Reason says granted or denied
	EventRexExit      EventKind = "rex_exit"       // request-to-exit button opened the door
	EventDoorForced   EventKind = "door_forced"    // door opened without a grant or exit request
	EventDoorHeldOpen EventKind = "door_held_open" // door stayed open past the allowed time
	EventDoorClosed   EventKind = "door_closed"    // door closed after being open
	EventRemoteUnlock EventKind = "remote_unlock"  // a signed command unlocked the door
	EventReaderFault  EventKind = "reader_fault"   // the badge reader stopped answering
	EventReaderOK     EventKind = "reader_ok"      // the badge reader answers again
	// EventSuspectedClone is the alarm of a badge listed as secure that failed
	// its authentication (or replayed an NTAG 424 DNA read counter): recorded
	// with the denied_auth_failed tap, carrying the same uid and member.
	EventSuspectedClone EventKind = "suspected_clone"
)

var eventKinds = map[EventKind]bool{
	EventTap: true, EventRexExit: true, EventDoorForced: true, EventDoorHeldOpen: true,
	EventDoorClosed: true, EventRemoteUnlock: true, EventReaderFault: true, EventReaderOK: true,
	EventSuspectedClone: true,
}

// Reason is the single reason code of an access decision (PRODUCT.md 4.1).
type Reason string

// Reason codes.
const (
	GrantedBooking        Reason = "granted_booking"
	GrantedPass           Reason = "granted_pass"
	GrantedStaff          Reason = "granted_staff"
	DeniedUnknownBadge    Reason = "denied_unknown_badge"
	DeniedRevoked         Reason = "denied_revoked"
	DeniedNoBooking       Reason = "denied_no_booking"
	DeniedOutsideWindow   Reason = "denied_outside_window"
	DeniedWrongRoom       Reason = "denied_wrong_room"
	DeniedStaleWhitelist  Reason = "denied_stale_whitelist"
	DeniedClockUntrusted  Reason = "denied_clock_untrusted"
	DeniedNoWhitelist     Reason = "denied_no_whitelist"
	DeniedDebounce        Reason = "denied_debounce"
	DeniedReaderUntrusted Reason = "denied_reader_untrusted"
	// DeniedAuthFailed: a badge listed as secure did not prove its door key
	// (wrong cryptogram, no such application, no door key for its key
	// version) or its NTAG 424 DNA read counter did not grow: a suspected clone.
	DeniedAuthFailed Reason = "denied_auth_failed"
	// DeniedNotSecure: a UID-only badge at a center that requires secure credentials.
	DeniedNotSecure Reason = "denied_not_secure"
)

var reasonText = map[Reason]string{
	GrantedBooking:        "granted: booking open now",
	GrantedPass:           "granted: valid pass for this center",
	GrantedStaff:          "granted: staff",
	DeniedUnknownBadge:    "denied: badge not known",
	DeniedRevoked:         "denied: badge revoked",
	DeniedNoBooking:       "denied: no booking or pass here",
	DeniedOutsideWindow:   "denied: outside the booking or pass window",
	DeniedWrongRoom:       "denied: booking is for another room",
	DeniedStaleWhitelist:  "denied: door whitelist too old (staff only)",
	DeniedClockUntrusted:  "denied: door clock not trusted (staff only)",
	DeniedNoWhitelist:     "denied: door has no whitelist yet",
	DeniedDebounce:        "denied: same badge presented again too soon",
	DeniedReaderUntrusted: "denied: reader reported an unverified card",
	DeniedAuthFailed:      "denied: secure badge failed authentication (suspected clone)",
	DeniedNotSecure:       "denied: this center requires secure badges",
}

// Granted reports whether the reason is a grant.
func (r Reason) Granted() bool { return strings.HasPrefix(string(r), "granted_") }

// Known reports whether r is a reason code of this protocol version.
func (r Reason) Known() bool { _, ok := reasonText[r]; return ok }

// Text is the reason in words, for dashboards and technicians.
func (r Reason) Text() string {
	if t, ok := reasonText[r]; ok {
		return t
	}
	return string(r)
}

// Event is one journaled occurrence at a door (PRODUCT.md 4.3).
type Event struct {
	Seq       uint64    `json:"seq"`                 // persistent, gap-free per store (EventBatch.Store), from 1 to MaxSeq
	TimeMs    int64     `json:"time_ms"`             // door's wall clock, Unix ms
	Trusted   bool      `json:"trusted"`             // the door's clock was trusted at TimeMs
	Boot      string    `json:"boot"`                // boot id of the agent run that recorded it
	UptimeMs  int64     `json:"uptime_ms,omitempty"` // monotonic ms since that boot
	Kind      EventKind `json:"kind"`                // what happened
	UID       UID       `json:"uid,omitempty"`       // badge, for taps
	Member    string    `json:"member,omitempty"`    // member the badge belongs to, when known
	Reason    Reason    `json:"reason,omitempty"`    // for taps
	WLVersion uint64    `json:"wl_version"`          // whitelist version the decision used
	Command   string    `json:"command,omitempty"`   // command id, for remote_unlock
	// ReadCounter is the NTAG 424 DNA's authenticated SDM read counter read
	// at this tap (0: not read, a UID-only or DESFire badge).
	ReadCounter uint32 `json:"read_ctr,omitempty"`
}

// Validate checks the event; field names are prefixed with prefix. The
// bound on Seq (MaxSeq) is the wire's, checked by EventBatch.Validate: the
// central keeps events under numbers of its own above it (central/store).
func (e *Event) Validate(prefix string) error {
	f := func(name string) string { return prefix + name }
	if e.Seq == 0 {
		return invalid(f("seq"), "must be ≥ 1")
	}
	if e.TimeMs < 0 || e.TimeMs > maxMs {
		return invalid(f("time_ms"), "%d out of range", e.TimeMs)
	}
	if e.UptimeMs < 0 {
		return invalid(f("uptime_ms"), "negative")
	}
	if err := checkID(f("boot"), e.Boot); err != nil {
		return err
	}
	if !eventKinds[e.Kind] {
		return invalid(f("kind"), "unknown event kind %q", e.Kind)
	}
	if e.UID != "" {
		if err := checkUID(f("uid"), e.UID); err != nil {
			return err
		}
	}
	if err := checkOptionalID(f("member"), e.Member); err != nil {
		return err
	}
	if err := checkOptionalID(f("command"), e.Command); err != nil {
		return err
	}
	if e.ReadCounter > MaxReadCounter {
		return invalid(f("read_ctr"), "%d above the card's 24-bit counter", e.ReadCounter)
	}
	if e.ReadCounter != 0 && e.Kind != EventTap && e.Kind != EventSuspectedClone {
		return invalid(f("read_ctr"), "only taps and suspected_clone carry a read counter")
	}
	switch e.Kind {
	case EventSuspectedClone:
		if e.UID == "" {
			return invalid(f("uid"), "required for suspected_clone")
		}
		if e.Reason != "" {
			return invalid(f("reason"), "only taps carry a reason")
		}
	case EventTap:
		if e.UID == "" {
			return invalid(f("uid"), "required for a tap")
		}
		if !e.Reason.Known() {
			return invalid(f("reason"), "unknown reason code %q", e.Reason)
		}
	default:
		if e.Reason != "" {
			return invalid(f("reason"), "only taps carry a reason")
		}
	}
	if e.Kind == EventRemoteUnlock && e.Command == "" {
		return invalid(f("command"), "required for remote_unlock")
	}
	return nil
}

// EventBatch is published by a door on its events topic: events of one
// store (see Store), consecutive or not, at most MaxBatchEvents in
// increasing seq order.
type EventBatch struct {
	V    int    `json:"v"`
	Door string `json:"door"`
	// Store is the identity of the door database that numbered the events
	// (NewStoreID); events are identified by (door, store, seq). Empty is
	// the stream of a door from before store identities, numbered per door.
	Store  string  `json:"store,omitempty"`
	Events []Event `json:"events"`
}

// Validate checks the batch.
func (b *EventBatch) Validate() error {
	if err := checkID("door", b.Door); err != nil {
		return err
	}
	if err := checkStoreID("store", b.Store); err != nil {
		return err
	}
	if len(b.Events) == 0 {
		return invalid("events", "empty batch")
	}
	if len(b.Events) > MaxBatchEvents {
		return invalid("events", "%d events; at most %d", len(b.Events), MaxBatchEvents)
	}
	var last uint64
	for i := range b.Events {
		p := fmt.Sprintf("events[%d].", i)
		if err := b.Events[i].Validate(p); err != nil {
			return err
		}
		if b.Events[i].Seq > MaxSeq {
			return seqRange(p+"seq", b.Events[i].Seq)
		}
		if b.Events[i].Seq <= last {
			return invalid(p+"seq", "%d not above the previous %d", b.Events[i].Seq, last)
		}
		last = b.Events[i].Seq
	}
	return nil
}

// Ack is the central's cumulative acknowledgement of one store's stream:
// every event of the door numbered by Store with seq ≤ Through is durably
// stored. The door may delete those events of that store, and only those:
// an ack names the store so that a door never deletes events of its own
// stream on an ack of another (an older database of the same door).
type Ack struct {
	V        int    `json:"v"`
	Door     string `json:"door"`
	Store    string `json:"store,omitempty"` // as in EventBatch; empty for the stream from before store identities
	Through  uint64 `json:"through"`
	ServerMs int64  `json:"server_ms"` // central's clock when it acked, Unix ms
}

// Validate checks the ack.
func (a *Ack) Validate() error {
	if err := checkID("door", a.Door); err != nil {
		return err
	}
	if err := checkStoreID("store", a.Store); err != nil {
		return err
	}
	if a.Through > MaxSeq {
		return seqRange("through", a.Through)
	}
	if a.ServerMs < minSignedMs || a.ServerMs > maxMs {
		return invalid("server_ms", "%d out of range", a.ServerMs)
	}
	return nil
}

// SyncRequest asks the central for the door's whitelist from version From
// (0: a full snapshot).
type SyncRequest struct {
	V    int    `json:"v"`
	Door string `json:"door"`
	From uint64 `json:"from"`
}

// Validate checks the request.
func (s *SyncRequest) Validate() error { return checkID("door", s.Door) }

// Door and connection states carried in Status.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Status is the door's retained status. The last will is a Status with
// State "offline".
type Status struct {
	V              int    `json:"v"`
	Door           string `json:"door"`
	State          string `json:"state"` // online | offline
	TimeMs         int64  `json:"time_ms,omitempty"`
	Boot           string `json:"boot,omitempty"`
	Firmware       string `json:"firmware,omitempty"`
	WLVersion      uint64 `json:"wl_version,omitempty"`
	WLIssuedMs     int64  `json:"wl_issued_ms,omitempty"`
	OutboxDepth    uint64 `json:"outbox_depth,omitempty"`
	OutboxOldestMs int64  `json:"outbox_oldest_ms,omitempty"`
	ClockTrusted   bool   `json:"clock_trusted,omitempty"`
	DoorState      string `json:"door_state,omitempty"` // locked, unlocked, open, held_open, forced
	Reader         string `json:"reader,omitempty"`     // ok, fault
}

// Validate checks the status.
func (s *Status) Validate() error {
	if err := checkID("door", s.Door); err != nil {
		return err
	}
	if s.State != StateOnline && s.State != StateOffline {
		return invalid("state", "%q; want online or offline", s.State)
	}
	if s.TimeMs < 0 || s.TimeMs > maxMs || s.WLIssuedMs < 0 || s.WLIssuedMs > maxMs ||
		s.OutboxOldestMs < 0 || s.OutboxOldestMs > maxMs {
		return invalid("time_ms", "a time is out of range")
	}
	if err := checkOptionalID("boot", s.Boot); err != nil {
		return err
	}
	for name, v := range map[string]string{"firmware": s.Firmware, "door_state": s.DoorState, "reader": s.Reader} {
		if len(v) > maxTextLen {
			return invalid(name, "longer than %d bytes", maxTextLen)
		}
	}
	return nil
}

// GrantKind is the kind of right an entry carries.
type GrantKind string

// Grant kinds.
const (
	GrantBooking GrantKind = "booking"
	GrantPass    GrantKind = "pass"
	GrantStaff   GrantKind = "staff"
)

// Grant is one right of a badge at a door: staff (optionally bounded), a pass
// valid [From, To), or a booking [From, To) (From is the booking start; the
// door applies its grace period). Room is set for a booking of a meeting room.
// Times are Unix seconds; 0 means unbounded.
type Grant struct {
	Kind GrantKind `json:"kind"`
	From int64     `json:"from,omitempty"`
	To   int64     `json:"to,omitempty"`
	Room string    `json:"room,omitempty"`
	Ref  string    `json:"ref,omitempty"` // booking or pass id, for audit
}

// Entry is one badge in a door's whitelist.
type Entry struct {
	UID     UID     `json:"uid"`
	Member  string  `json:"member"`
	Revoked bool    `json:"revoked,omitempty"`
	Grants  []Grant `json:"grants,omitempty"`
	// Card is the badge's card type; empty or uid_only: the UID alone
	// identifies it. A secure badge (ntag424dna, desfire_ev2) lists its door
	// key for the key version it holds, and during a rotation the next one's.
	Card CardType  `json:"card,omitempty"`
	Keys []DoorKey `json:"keys,omitempty"`
}

// Validate checks the entry.
func (e *Entry) Validate(prefix string) error {
	if err := checkUID(prefix+"uid", e.UID); err != nil {
		return err
	}
	if err := checkID(prefix+"member", e.Member); err != nil {
		return err
	}
	if err := e.checkSecure(prefix); err != nil {
		return err
	}
	if len(e.Grants) > MaxGrantsPerEntry {
		return invalid(prefix+"grants", "%d grants; at most %d", len(e.Grants), MaxGrantsPerEntry)
	}
	for i, g := range e.Grants {
		p := fmt.Sprintf("%sgrants[%d].", prefix, i)
		switch g.Kind {
		case GrantBooking, GrantPass, GrantStaff:
		default:
			return invalid(p+"kind", "unknown grant kind %q", g.Kind)
		}
		if g.From < 0 || g.To < 0 || g.From > maxMs/1000 || g.To > maxMs/1000 {
			return invalid(p+"from", "time out of range")
		}
		if g.To != 0 && g.To <= g.From {
			return invalid(p+"to", "%d not after from %d", g.To, g.From)
		}
		if g.Kind == GrantBooking && (g.From == 0 || g.To == 0) {
			return invalid(p+"from", "a booking needs from and to")
		}
		if err := checkOptionalID(p+"room", g.Room); err != nil {
			return err
		}
		if err := checkOptionalID(p+"ref", g.Ref); err != nil {
			return err
		}
	}
	return nil
}

// WhitelistKind distinguishes full snapshots from deltas.
type WhitelistKind string

// Whitelist kinds.
const (
	Snapshot WhitelistKind = "snapshot"
	Delta    WhitelistKind = "delta"
)

// Whitelist is the signed body of a whitelist message for one door.
//
// A snapshot of version N replaces everything; it is split into Parts signed
// messages (Part 1..Parts) that the door stages and applies together once all
// have arrived. A delta moves the door from version Base to version Version,
// upserting Entries and removing Removed; it is always a single message.
type Whitelist struct {
	V         int           `json:"v"`
	Door      string        `json:"door"`
	Kind      WhitelistKind `json:"kind"`
	Version   uint64        `json:"version"`
	Base      uint64        `json:"base,omitempty"`
	Part      int           `json:"part,omitempty"`
	Parts     int           `json:"parts,omitempty"`
	IssuedMs  int64         `json:"issued_ms"`
	ExpiresMs int64         `json:"expires_ms"`
	Center    string        `json:"center,omitempty"` // the door's center
	Room      string        `json:"room,omitempty"`   // the meeting room the door guards; empty for an entrance
	Entries   []Entry       `json:"entries,omitempty"`
	Removed   []UID         `json:"removed,omitempty"`
	// RequireSecure is the center's require_secure_credentials policy: the
	// door refuses UID-only badges (denied_not_secure). Every message carries
	// the center's current policy, deltas included, and the door takes it
	// from each message it applies.
	RequireSecure bool `json:"require_secure,omitempty"`
	// HeldOpenS is the network's held-open threshold in seconds (1 to
	// MaxHeldOpenSeconds): the door reports door_held_open when it stays
	// open this long. Like RequireSecure, every message carries the value
	// in force, and the door takes it from each message it applies; a
	// message without it (0, an older central) leaves the door on its own
	// configured door.held_open_time.
	HeldOpenS int `json:"held_open_s,omitempty"`
}

// Validate checks the whitelist body on its own (not against the door's state).
func (w *Whitelist) Validate() error {
	if err := checkID("door", w.Door); err != nil {
		return err
	}
	if w.Version == 0 {
		return invalid("version", "must be ≥ 1")
	}
	if err := checkTimes(w.IssuedMs, w.ExpiresMs); err != nil {
		return err
	}
	if err := checkOptionalID("center", w.Center); err != nil {
		return err
	}
	if err := checkOptionalID("room", w.Room); err != nil {
		return err
	}
	if w.HeldOpenS < 0 || w.HeldOpenS > MaxHeldOpenSeconds {
		return invalid("held_open_s", "%d; want 1 to %d seconds, or absent", w.HeldOpenS, MaxHeldOpenSeconds)
	}
	switch w.Kind {
	case Snapshot:
		if w.Base != 0 {
			return invalid("base", "a snapshot has no base")
		}
		if w.Parts < 1 || w.Part < 1 || w.Part > w.Parts {
			return invalid("part", "part %d of %d", w.Part, w.Parts)
		}
		if len(w.Removed) != 0 {
			return invalid("removed", "a snapshot removes nothing")
		}
	case Delta:
		if w.Base >= w.Version {
			return invalid("base", "%d not below version %d", w.Base, w.Version)
		}
		if w.Part != 0 || w.Parts != 0 {
			return invalid("part", "a delta is a single message")
		}
	default:
		return invalid("kind", "%q; want snapshot or delta", w.Kind)
	}
	seen := make(map[UID]bool, len(w.Entries)+len(w.Removed))
	for i := range w.Entries {
		p := fmt.Sprintf("entries[%d].", i)
		if err := w.Entries[i].Validate(p); err != nil {
			return err
		}
		if seen[w.Entries[i].UID] {
			return invalid(p+"uid", "badge %s listed twice", w.Entries[i].UID)
		}
		seen[w.Entries[i].UID] = true
	}
	for i, u := range w.Removed {
		p := fmt.Sprintf("removed[%d]", i)
		if err := checkUID(p, u); err != nil {
			return err
		}
		if seen[u] {
			return invalid(p, "badge %s listed twice", u)
		}
		seen[u] = true
	}
	return nil
}

// Command actions.
const (
	ActionUnlock = "unlock" // unlock now for Seconds
	ActionRelock = "relock" // lock now, ending any unlock
	ActionResync = "resync" // request a full whitelist snapshot
)

// Command is the signed body of a remote command to one door. A door executes
// a command id at most once, and never after ExpiresMs.
type Command struct {
	V         int    `json:"v"`
	ID        string `json:"id"`
	Door      string `json:"door"`
	Action    string `json:"action"`
	Seconds   int    `json:"seconds,omitempty"`
	IssuedMs  int64  `json:"issued_ms"`
	ExpiresMs int64  `json:"expires_ms"`
	By        string `json:"by,omitempty"` // who asked, for the audit trail
}

// MaxCommandLifetime bounds ExpiresMs - IssuedMs, so that a door need only
// remember executed command ids for that long.
const MaxCommandLifetime = 24 * time.Hour

// Validate checks the command body.
func (c *Command) Validate() error {
	if err := checkID("id", c.ID); err != nil {
		return err
	}
	if err := checkID("door", c.Door); err != nil {
		return err
	}
	if err := checkTimes(c.IssuedMs, c.ExpiresMs); err != nil {
		return err
	}
	if time.Duration(c.ExpiresMs-c.IssuedMs)*time.Millisecond > MaxCommandLifetime {
		return invalid("expires_ms", "more than %v after issued_ms", MaxCommandLifetime)
	}
	if err := checkOptionalID("by", c.By); err != nil {
		return err
	}
	switch c.Action {
	case ActionUnlock:
		if c.Seconds < 1 || c.Seconds > MaxUnlockSeconds {
			return invalid("seconds", "%d; want 1 to %d", c.Seconds, MaxUnlockSeconds)
		}
	case ActionRelock, ActionResync:
		if c.Seconds != 0 {
			return invalid("seconds", "only unlock takes seconds")
		}
	default:
		return invalid("action", "%q; want unlock, relock or resync", c.Action)
	}
	return nil
}

func checkTimes(issued, expires int64) error {
	if issued < minSignedMs || issued > maxMs {
		return invalid("issued_ms", "%d out of range", issued)
	}
	if expires <= issued || expires > maxMs {
		return invalid("expires_ms", "%d not after issued_ms %d", expires, issued)
	}
	return nil
}
