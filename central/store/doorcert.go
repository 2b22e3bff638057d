package store

import (
	"context"
	"fmt"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Why a door certificate was revoked (DoorCert.Reason).
const (
	// RevokedSuperseded: its door enrolled again with another key
	// (RedeemEnrollment); a renewal keeps the key and supersedes nothing.
	RevokedSuperseded = "superseded"
	// RevokedDoorRemoved: its door was deleted (DeleteDoor).
	RevokedDoorRemoved = "door_removed"
	// RevokedExplicit: revoked by RevokeDoorCert.
	RevokedExplicit = "revoked"
)

// DoorCert is a door certificate the central's CA issued, as recorded for
// the CA's revocation list (migration 0023).
type DoorCert struct {
	Serial    string `json:"serial"` // lower-case hex without leading zeros (big.Int.Text(16))
	Door      string `json:"door"`
	KeySHA256 string `json:"key_sha256"`
	// NotBeforeMs and IssuedMs (when the central recorded it) are 0 for a
	// certificate imported from a door-certs.json, which did not keep them.
	NotBeforeMs int64 `json:"not_before_ms"`
	NotAfterMs  int64 `json:"not_after_ms"`
	IssuedMs    int64 `json:"issued_ms"`
	// RevokedMs is when it was revoked, 0 while it is valid; Reason is one
	// of the Revoked* constants then.
	RevokedMs int64  `json:"revoked_ms,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Validate checks a certificate record.
func (c *DoorCert) Validate() error {
	if c.Serial == "" || len(c.Serial) > 40 || c.Serial[0] == '0' || !lowerHex(c.Serial) {
		return &domain.FieldError{Field: "serial", Message: fmt.Sprintf("%q: want 1 to 40 lower-case hex digits without leading zeros", c.Serial)}
	}
	if err := protocol.ValidID(c.Door); err != nil {
		return &domain.FieldError{Field: "door", Message: fmt.Sprintf("%q: %v", c.Door, err)}
	}
	k := DoorKey{KeySHA256: c.KeySHA256, EnrolledMs: 1}
	if err := k.Validate(); err != nil {
		return err
	}
	if c.NotBeforeMs < 0 || c.NotAfterMs <= c.NotBeforeMs {
		return &domain.FieldError{Field: "not_after_ms", Message: "want not_before_ms ≥ 0 and not_after_ms after it"}
	}
	if c.IssuedMs < 0 {
		return &domain.FieldError{Field: "issued_ms", Message: "negative"}
	}
	switch {
	case c.RevokedMs < 0:
		return &domain.FieldError{Field: "revoked_ms", Message: "negative"}
	case (c.RevokedMs == 0) != (c.Reason == ""):
		return &domain.FieldError{Field: "reason", Message: "set with revoked_ms, and only then"}
	case c.Reason != "" && c.Reason != RevokedSuperseded && c.Reason != RevokedDoorRemoved && c.Reason != RevokedExplicit:
		return &domain.FieldError{Field: "reason", Message: fmt.Sprintf("%q: want %s, %s or %s", c.Reason, RevokedSuperseded, RevokedDoorRemoved, RevokedExplicit)}
	}
	return nil
}

func lowerHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Revocations is what a door CA's revocation list is made of.
type Revocations struct {
	// Revision counts the certificates ever revoked: it grows with every
	// revocation and never goes down (revocations are never undone, records
	// never deleted), the same for every replica reading the same state.
	Revision int64
	// Certs are the revoked certificates that had not expired at the time
	// asked for, by serial.
	Certs []DoorCert
}

// DoorCertStore records the door certificates the CA issues and their
// revocations (migration 0023), for the CA's revocation list
// (central/enroll.Revocations). Store.DoorCerts returns it; it shares the
// store's database, so every replica computes the same list. Besides its
// own methods, RedeemEnrollment revokes the certificates of the door's
// other keys (RevokedSuperseded, at the key's EnrolledMs) and DeleteDoor
// those of the door (RevokedDoorRemoved), each in its own transaction; on
// PostgreSQL every committed change of the record is announced with NOTIFY
// on DoorCertsChannel.
type DoorCertStore interface {
	// RecordDoorCert stores a certificate just issued (RevokedMs and
	// Reason must be empty): ErrExists for a serial already recorded. It
	// is born revoked, at IssuedMs, when its door no longer exists
	// (RevokedDoorRemoved) or its key is superseded (RevokedSuperseded): a
	// renewal (renewal true) must carry the door's enrolled key (else it
	// raced a new enrollment of the door); an enrollment's certificate is
	// recorded before its token is redeemed, so its key is superseded only
	// when certificates of that key already were. The record is returned.
	RecordDoorCert(ctx context.Context, c DoorCert, renewal bool) (DoorCert, error)
	// ImportDoorCerts stores certificates issued before the store kept
	// them (a central's door-certs.json), skipping serials already stored,
	// in one transaction, and returns how many were new. A certificate not
	// revoked whose door is gone, or enrolled with another key, is revoked
	// at atMs (RevokedDoorRemoved, RevokedSuperseded).
	ImportDoorCerts(ctx context.Context, certs []DoorCert, atMs int64) (int, error)
	// RevokeDoorCert revokes a certificate (RevokedExplicit) at atMs:
	// ErrNotFound for an unknown serial; one already revoked keeps its
	// first revocation (no error).
	RevokeDoorCert(ctx context.Context, serial string, atMs int64) error
	// DoorCert returns a recorded certificate (ErrNotFound).
	DoorCert(ctx context.Context, serial string) (DoorCert, error)
	// DoorCertsOf returns the recorded certificates of a door, revoked or
	// not, by serial (none for an unknown door).
	DoorCertsOf(ctx context.Context, door string) ([]DoorCert, error)
	// RevokedDoorCerts returns, read at once, the revision and the revoked
	// certificates whose NotAfterMs is after unexpiredAtMs.
	RevokedDoorCerts(ctx context.Context, unexpiredAtMs int64) (Revocations, error)
}

// DoorCertsChannel is the PostgreSQL NOTIFY channel of DoorCertStore's
// changes (a trigger of migration 0023 sends an empty payload).
const DoorCertsChannel = "swc_door_certs"
