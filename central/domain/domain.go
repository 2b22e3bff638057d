// Package domain holds the central service's vocabulary: centers, rooms,
// doors, members, badges, bookings, passes and staff assignments, with their
// validation. Storage, the API, the whitelist compiler and the hours engine
// all speak these types.
package domain

import (
	"errors"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// NetworkTimeZone is the default time zone of the network (periods, reports).
const NetworkTimeZone = "Europe/Brussels"

// FieldError is a validation error that names the offending field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrValidation is matched (errors.Is) by every *FieldError.
var ErrValidation = errors.New("validation failed")

// Is makes errors.Is(err, ErrValidation) true for field errors.
func (e *FieldError) Is(target error) bool { return target == ErrValidation }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func checkID(field, id string) error {
	if err := protocol.ValidID(id); err != nil {
		return fieldErr(field, "%q: %v", id, err)
	}
	return nil
}

// Span is an interval of minutes after local midnight, [Open, Close); Close
// may be 1440 (midnight at the end of the day).
type Span struct {
	Open  int `json:"open"`
	Close int `json:"close"`
}

// OpeningHours are per weekday (time.Sunday = 0) lists of open spans, local
// time of the center. A day with no span is closed.
type OpeningHours [7][]Span

// Validate checks spans are within the day, non-empty and in order.
func (h OpeningHours) Validate() error {
	for d, spans := range h {
		last := -1
		for i, s := range spans {
			f := fmt.Sprintf("hours[%s][%d]", time.Weekday(d), i)
			if s.Open < 0 || s.Close > 1440 || s.Open >= s.Close {
				return fieldErr(f, "span %d–%d minutes is not within one day", s.Open, s.Close)
			}
			if s.Open < last {
				return fieldErr(f, "spans overlap or are out of order")
			}
			last = s.Close
		}
	}
	return nil
}

// Center is one smart work center of the network.
type Center struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	TimeZone  string       `json:"time_zone"` // IANA name, such as Europe/Brussels
	Hours     OpeningHours `json:"hours"`
	RateCents int64        `json:"rate_cents,omitempty"` // hourly rate override in cents; 0 = network default
	// RequireSecure is the center's require_secure_credentials policy: its
	// doors refuse UID-only badges (denied_not_secure).
	RequireSecure bool `json:"require_secure_credentials,omitempty"`
}

// Location loads the center's time zone.
func (c *Center) Location() (*time.Location, error) { return time.LoadLocation(c.TimeZone) }

// Validate checks the center.
func (c *Center) Validate() error {
	if err := checkID("id", c.ID); err != nil {
		return err
	}
	if c.Name == "" || len(c.Name) > 200 {
		return fieldErr("name", "required, at most 200 bytes")
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || c.TimeZone == "Local" {
		return fieldErr("time_zone", "%q is not an IANA time zone such as Europe/Brussels", c.TimeZone)
	}
	if c.RateCents < 0 {
		return fieldErr("rate_cents", "negative")
	}
	return c.Hours.Validate()
}

// Room is a bookable meeting room of a center. Capacity is how many people
// it seats (0: not stated; such a room is offered for one person only);
// Equipment lists what it has ("screen", "video", ...).
type Room struct {
	ID        string   `json:"id"`
	CenterID  string   `json:"center_id"`
	Name      string   `json:"name"`
	Capacity  int      `json:"capacity,omitempty"`
	Equipment []string `json:"equipment,omitempty"`
}

// Validate checks the room.
func (r *Room) Validate() error {
	if err := checkID("id", r.ID); err != nil {
		return err
	}
	if err := checkID("center_id", r.CenterID); err != nil {
		return err
	}
	if r.Name == "" || len(r.Name) > 200 {
		return fieldErr("name", "required, at most 200 bytes")
	}
	return r.validatePlace()
}

// Door is one badge reader and lock. RoomID is empty for an entrance door and
// names the meeting room a room door guards. Exit marks a reader on the inside
// that members tap when they leave (it records, and opens for anyone granted).
type Door struct {
	ID       string `json:"id"`
	CenterID string `json:"center_id"`
	Name     string `json:"name"`
	RoomID   string `json:"room_id,omitempty"`
	Exit     bool   `json:"exit,omitempty"`
}

// Validate checks the door.
func (d *Door) Validate() error {
	if err := checkID("id", d.ID); err != nil {
		return err
	}
	if err := checkID("center_id", d.CenterID); err != nil {
		return err
	}
	if d.Name == "" || len(d.Name) > 200 {
		return fieldErr("name", "required, at most 200 bytes")
	}
	if d.RoomID != "" {
		return checkID("room_id", d.RoomID)
	}
	return nil
}

// Member statuses.
const (
	MemberActive    = "active"
	MemberSuspended = "suspended"
)

// Member is a person who taps badges. HomeCenterID is empty for nomadic
// members, who belong to the cooperative, and names the center of a local
// member.
type Member struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Email        string `json:"email,omitempty"`
	HomeCenterID string `json:"home_center_id,omitempty"`
	Status       string `json:"status"`
}

// Nomadic reports whether the member belongs to the cooperative.
func (m *Member) Nomadic() bool { return m.HomeCenterID == "" }

// Validate checks the member.
func (m *Member) Validate() error {
	if err := checkID("id", m.ID); err != nil {
		return err
	}
	if m.Name == "" || len(m.Name) > 200 {
		return fieldErr("name", "required, at most 200 bytes")
	}
	if len(m.Email) > 254 {
		return fieldErr("email", "longer than 254 bytes")
	}
	if m.HomeCenterID != "" {
		if err := checkID("home_center_id", m.HomeCenterID); err != nil {
			return err
		}
	}
	if m.Status != MemberActive && m.Status != MemberSuspended {
		return fieldErr("status", "%q; want active or suspended", m.Status)
	}
	return nil
}

// Badge links a card UID to a member. A revoked badge stays known so doors
// can tell "revoked" from "unknown".
type Badge struct {
	UID      protocol.UID `json:"uid"`
	MemberID string       `json:"member_id"`
	Revoked  bool         `json:"revoked,omitempty"`
	// AddedBy is the principal that added the badge: an API token's id,
	// or "staff." and the staff account's id (store.StaffPrincipalPrefix)
	// when added in the staff console. The API and the console set it (a
	// body's value is ignored); it lets a technician see and
	// revoke the badges they enrolled, and the center's manager see who
	// enrolled them. "" for badges added before it was recorded.
	AddedBy string `json:"added_by,omitempty"`
	// Card is the badge's card type ("" or uid_only: its UID alone opens;
	// ntag424dna, desfire_ev2: a secure badge that authenticates at the
	// door). KeyVersion is the card master key version its keys come from
	// (0 for a UID-only badge). A station sets both when it personalises
	// or re-keys the card; UpdateBadge keeps them.
	Card       protocol.CardType `json:"card_type,omitempty"`
	KeyVersion uint8             `json:"key_version,omitempty"`
}

// Secure reports whether the badge is a secure credential.
func (b *Badge) Secure() bool { return b.Card.Secure() }

// CheckCredential checks a card type and key version pair.
func CheckCredential(card protocol.CardType, keyVersion uint8) error {
	if !card.Valid() {
		return fieldErr("card_type", "%q; want %s, %s or %s", card, protocol.CardUIDOnly, protocol.CardNTAG424DNA, protocol.CardDESFireEV2)
	}
	if card.Secure() && keyVersion == 0 {
		return fieldErr("key_version", "a secure badge has a key version of 1 or more")
	}
	if !card.Secure() && keyVersion != 0 {
		return fieldErr("key_version", "a UID-only badge has no key version")
	}
	return nil
}

// Validate checks the badge.
func (b *Badge) Validate() error {
	if err := b.UID.Validate(); err != nil {
		return fieldErr("uid", "%v", err)
	}
	if err := CheckCredential(b.Card, b.KeyVersion); err != nil {
		return err
	}
	if b.AddedBy != "" {
		if err := checkID("added_by", b.AddedBy); err != nil {
			return err
		}
	}
	return checkID("member_id", b.MemberID)
}

// Booking statuses.
const (
	BookingConfirmed = "confirmed"
	BookingCancelled = "cancelled"
	// BookingReleased: a room booking nobody checked in to within the
	// center's release_after_minutes, released by the central (the room is
	// free again). It is a no-show: the crediting counts it as booked and
	// not attended, per the no-show policy.
	BookingReleased = "released"
)

// Booking is a reservation of a workspace (RoomID empty) or a meeting room at
// a center, [Start, End).
type Booking struct {
	ID       string    `json:"id"`
	MemberID string    `json:"member_id"`
	CenterID string    `json:"center_id"`
	RoomID   string    `json:"room_id,omitempty"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Status   string    `json:"status"`
	// CreatedBy records who created the booking. The central sets it from
	// the caller's identity (the API token) when the booking is created or
	// imported; it is never taken from a request and never changes
	// afterwards. It is zero for bookings created before it was recorded.
	CreatedBy BookingCreator `json:"created_by,omitzero"`
}

// Who can create a booking (BookingCreator.Role).
const (
	// CreatorCooperative: the cooperative (an admin token).
	CreatorCooperative = "cooperative"
	// CreatorMember: the member themself (the future booking site).
	CreatorMember = "member"
	// CreatorCenterStaff: a center's staff (a manager token); CenterID
	// names the center.
	CreatorCenterStaff = "center_staff"
)

// BookingCreator is who created a booking: the role of the caller and, for
// a center's staff, which center; TokenID is the principal used, for audit:
// an API token's id, or "staff." and the staff account's id for a booking
// made in the staff console.
//
// Design: a booking made by the host center's own staff credits hours to
// that same center, so the settlement shows those hours apart
// (PRODUCT.md 4.6); the creator is what tells them apart.
type BookingCreator struct {
	Role     string `json:"role"`
	CenterID string `json:"center_id,omitempty"`
	TokenID  string `json:"token_id,omitempty"`
}

// IsZero reports whether no creator is recorded.
func (c BookingCreator) IsZero() bool { return c == BookingCreator{} }

// Validate checks the creator; the zero creator (not recorded) is valid.
func (c *BookingCreator) Validate() error {
	if c.IsZero() {
		return nil
	}
	switch c.Role {
	case CreatorCooperative, CreatorMember:
		if c.CenterID != "" {
			return fieldErr("created_by.center_id", "only for role %s", CreatorCenterStaff)
		}
	case CreatorCenterStaff:
		if err := checkID("created_by.center_id", c.CenterID); err != nil {
			return err
		}
	default:
		return fieldErr("created_by.role", "%q; want %s, %s or %s", c.Role, CreatorCooperative, CreatorMember, CreatorCenterStaff)
	}
	if c.TokenID != "" {
		if err := checkID("created_by.token_id", c.TokenID); err != nil {
			return err
		}
	}
	return nil
}

// ByOwnStaff reports whether the booking was created by the staff of the
// center that hosts it (and is credited for it).
func (b *Booking) ByOwnStaff() bool {
	return b.CreatedBy.Role == CreatorCenterStaff && b.CreatedBy.CenterID == b.CenterID
}

// MaxBookingLength bounds one booking.
const MaxBookingLength = 31 * 24 * time.Hour

// Validate checks the booking on its own (not against other bookings).
func (b *Booking) Validate() error {
	for f, v := range map[string]string{"id": b.ID, "member_id": b.MemberID, "center_id": b.CenterID} {
		if err := checkID(f, v); err != nil {
			return err
		}
	}
	if b.RoomID != "" {
		if err := checkID("room_id", b.RoomID); err != nil {
			return err
		}
	}
	if b.Start.IsZero() {
		return fieldErr("start", "required")
	}
	if !b.End.After(b.Start) {
		return fieldErr("end", "must be after start")
	}
	if b.End.Sub(b.Start) > MaxBookingLength {
		return fieldErr("end", "booking longer than %v", MaxBookingLength)
	}
	if b.Status != BookingConfirmed && b.Status != BookingCancelled && b.Status != BookingReleased {
		return fieldErr("status", "%q; want confirmed, cancelled or released", b.Status)
	}
	return b.CreatedBy.Validate()
}

// Pass lets a member in without a booking, [ValidFrom, ValidUntil), at the
// listed centers, or at every center when CenterIDs is empty.
type Pass struct {
	ID         string    `json:"id"`
	MemberID   string    `json:"member_id"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	CenterIDs  []string  `json:"center_ids,omitempty"`
}

// Covers reports whether the pass covers the center.
func (p *Pass) Covers(centerID string) bool {
	if len(p.CenterIDs) == 0 {
		return true
	}
	for _, c := range p.CenterIDs {
		if c == centerID {
			return true
		}
	}
	return false
}

// Validate checks the pass.
func (p *Pass) Validate() error {
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if err := checkID("member_id", p.MemberID); err != nil {
		return err
	}
	if p.ValidFrom.IsZero() {
		return fieldErr("valid_from", "required")
	}
	if !p.ValidUntil.After(p.ValidFrom) {
		return fieldErr("valid_until", "must be after valid_from")
	}
	for i, c := range p.CenterIDs {
		if err := checkID(fmt.Sprintf("center_ids[%d]", i), c); err != nil {
			return err
		}
	}
	return nil
}

// Staff makes a member staff of one center, or of the whole network when
// CenterID is empty. Staff pass every door of their centers at any time.
type Staff struct {
	MemberID string `json:"member_id"`
	CenterID string `json:"center_id,omitempty"`
}

// Validate checks the assignment.
func (s *Staff) Validate() error {
	if err := checkID("member_id", s.MemberID); err != nil {
		return err
	}
	if s.CenterID != "" {
		return checkID("center_id", s.CenterID)
	}
	return nil
}

// Event is a door event as stored by the central: the door's event plus the
// door id, the door's center when the event was received ("" for a door the
// central did not know) and when the central received it.
type Event struct {
	Door       string `json:"door"`
	Center     string `json:"center,omitempty"`
	ReceivedMs int64  `json:"received_ms"`
	// DoorSeq is the number the door gave the event in its own store (the
	// door's journal and logs show it); StoreSlot tells the door's stores
	// apart (0: a door without store identities, then 1, 2, ... for each
	// store in the order the central first heard of it). The central keeps
	// the event as Seq = StoreSlot×2^32 + DoorSeq, unique per door. The
	// store leaves both zero; WithDoorSeq fills them for showing.
	DoorSeq   uint64 `json:"door_seq,omitempty"`
	StoreSlot uint64 `json:"store_slot,omitempty"`
	protocol.Event
}

// WithDoorSeq returns e with DoorSeq and StoreSlot taken from its Seq.
func (e Event) WithDoorSeq() Event {
	e.StoreSlot, e.DoorSeq = e.Seq>>32, e.Seq&protocol.MaxSeq
	return e
}
