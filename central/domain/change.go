package domain

// Kind names a kind of domain object.
type Kind string

// Object kinds.
const (
	KindCenter  Kind = "center"
	KindRoom    Kind = "room"
	KindDoor    Kind = "door"
	KindMember  Kind = "member"
	KindBadge   Kind = "badge"
	KindBooking Kind = "booking"
	KindPass    Kind = "pass"
	KindStaff   Kind = "staff"
	// KindSettings: a new version of the network settings was stored
	// (Change.SettingsVersion; read it with store.SettingsStore).
	KindSettings Kind = "settings"
)

// Change tells listeners (the whitelist compiler, the dashboard) that one
// object was created, updated or deleted after the store committed it.
//
// Exactly one of the object pointers is set and matches Kind. For an upsert
// it holds the new state; for a delete (Deleted true) it holds the last state
// before deletion, so a listener knows which centers and doors were concerned.
type Change struct {
	Kind    Kind
	Deleted bool

	Center  *Center
	Room    *Room
	Door    *Door
	Member  *Member
	Badge   *Badge
	Booking *Booking
	Pass    *Pass
	Staff   *Staff
	// SettingsVersion is the number of the stored settings version
	// (KindSettings).
	SettingsVersion int64
}

// WhitelistState is what the central persists per door about the whitelist it
// last compiled: the version, the hash of its content (so that a restart that
// compiles the same content keeps the version) and when it was issued.
type WhitelistState struct {
	Door     string `json:"door"`
	Version  uint64 `json:"version"`
	Hash     string `json:"hash"`
	IssuedMs int64  `json:"issued_ms"`
}
