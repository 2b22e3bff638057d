package protocol

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// CardType is the kind of credential a badge is: a UID-only card (legacy, its
// UID alone opens; anyone can copy it) or a secure card that must prove at the
// door that it holds its door key (package shared/desfire).
type CardType string

// Card types. The empty type is UIDOnly, so that entries and badges from
// before secure credentials keep their meaning.
const (
	CardUIDOnly    CardType = "uid_only"
	CardNTAG424DNA CardType = "ntag424dna"
	CardDESFireEV2 CardType = "desfire_ev2" // DESFire EV2 and EV3
)

// Secure reports whether badges of this type authenticate at the door.
func (t CardType) Secure() bool { return t == CardNTAG424DNA || t == CardDESFireEV2 }

// Valid reports whether t is a known card type ("" counts as uid_only).
func (t CardType) Valid() bool { return t == "" || t == CardUIDOnly || t.Secure() }

// ParseCardType accepts a card type by name ("" is uid_only).
func ParseCardType(s string) (CardType, error) {
	t := CardType(strings.TrimSpace(s))
	if t == "" {
		return CardUIDOnly, nil
	}
	if !t.Valid() {
		return "", fmt.Errorf("card type %q: want %s, %s or %s", s, CardUIDOnly, CardNTAG424DNA, CardDESFireEV2)
	}
	return t, nil
}

// CardKeySize is the size of a card's AES-128 key.
const CardKeySize = 16

// MaxDoorKeys bounds the door keys of one entry: the key version the badge
// holds and, during a rotation, the next one.
const MaxDoorKeys = 2

// CardKey is one AES-128 card key, written on the wire as 32 hex digits.
type CardKey [CardKeySize]byte

// MarshalText writes the key as upper-case hex.
func (k CardKey) MarshalText() ([]byte, error) {
	return []byte(strings.ToUpper(hex.EncodeToString(k[:]))), nil
}

// UnmarshalText reads 32 hex digits (either case).
func (k *CardKey) UnmarshalText(b []byte) error {
	if len(b) != 2*CardKeySize {
		return fmt.Errorf("card key of %d hex digits; want %d", len(b), 2*CardKeySize)
	}
	if _, err := hex.Decode(k[:], b); err != nil {
		return fmt.Errorf("card key: not hexadecimal")
	}
	return nil
}

// String never shows the key itself (entries end up in logs and test output).
func (k CardKey) String() string { return "CardKey(redacted)" }

// GoString keeps %#v from printing the key too.
func (k CardKey) GoString() string { return k.String() }

// DoorKey is a secure badge's door key (AES key number 1 of its application,
// diversified from the network's card master key of version Version) as a
// door needs it to authenticate the badge. NotAfterMs, when set, is the last
// instant (Unix ms) the door accepts this version: the old version of a key
// rotation carries the rotation's cut-off date.
type DoorKey struct {
	Version    uint8   `json:"version"`
	Key        CardKey `json:"key"`
	NotAfterMs int64   `json:"not_after_ms,omitempty"`
}

// checkSecure validates an entry's card type and door keys.
func (e *Entry) checkSecure(prefix string) error {
	if !e.Card.Valid() {
		return invalid(prefix+"card", "unknown card type %q; want %s, %s or %s", e.Card, CardUIDOnly, CardNTAG424DNA, CardDESFireEV2)
	}
	if !e.Card.Secure() {
		if len(e.Keys) != 0 {
			return invalid(prefix+"keys", "a %s badge has no door keys", CardUIDOnly)
		}
		return nil
	}
	if len(e.Keys) == 0 || len(e.Keys) > MaxDoorKeys {
		return invalid(prefix+"keys", "%d door keys; a secure badge has 1 to %d", len(e.Keys), MaxDoorKeys)
	}
	for i, k := range e.Keys {
		p := fmt.Sprintf("%skeys[%d].", prefix, i)
		if k.Version == 0 {
			return invalid(p+"version", "key version 0 is the factory key; want 1 to 255")
		}
		if k.NotAfterMs < 0 || k.NotAfterMs > maxMs {
			return invalid(p+"not_after_ms", "%d out of range", k.NotAfterMs)
		}
		if k.Key == (CardKey{}) {
			return invalid(p+"key", "all-zero key (a factory key is never a door key)")
		}
		if i > 0 && k.Version == e.Keys[0].Version {
			return invalid(p+"version", "key version %d listed twice", k.Version)
		}
	}
	return nil
}

// Secure reports whether the entry is a secure badge (it lists door keys).
func (e *Entry) Secure() bool { return e.Card.Secure() }

// DoorKeyFor returns the door key of version v valid at nowMs (Unix ms), if the entry has one.
func (e *Entry) DoorKeyFor(v uint8, nowMs int64) (CardKey, bool) {
	for i := range e.Keys {
		k := &e.Keys[i]
		if k.Version == v && (k.NotAfterMs == 0 || nowMs <= k.NotAfterMs) {
			return k.Key, true
		}
	}
	return CardKey{}, false
}

// MaxReadCounter is the largest NTAG 424 DNA SDM read counter (24 bits).
const MaxReadCounter = 0xFFFFFF

// Personalisation is the central's answer to a technician's station that
// personalises or re-keys one card (POST /api/v1/badges/{uid}/personalisation):
// the card's application keys of KeyVersion (key 0, the application master
// key, first; then key 1, the door key; keys 2 to 4 too on an NTAG 424 DNA),
// diversified for its UID, and, for a badge recorded as secure with an older
// version, the keys the card holds now (Current), needed to re-key it.
type Personalisation struct {
	UID        UID            `json:"uid"`
	CardType   CardType       `json:"card_type"`
	KeyVersion uint8          `json:"key_version"`
	Keys       []CardKey      `json:"keys"`
	Current    *VersionedKeys `json:"current,omitempty"`
}

// VersionedKeys are one card's application keys of one key version.
type VersionedKeys struct {
	KeyVersion uint8     `json:"key_version"`
	Keys       []CardKey `json:"keys"`
}

// PersonalisationKeyCount is how many application keys the network sets on
// a card type: NTAG 424 DNA keys 0 to 4, DESFire keys 0 (application
// master) and 1 (door); 0 for a UID-only badge.
func PersonalisationKeyCount(t CardType) int {
	switch t {
	case CardNTAG424DNA:
		return 5
	case CardDESFireEV2:
		return 2
	}
	return 0
}

// Validate checks an answer for the card the station holds.
func (p *Personalisation) Validate(uid UID, card CardType) error {
	if p.UID != uid {
		return invalid("uid", "keys of badge %s, not %s", p.UID, uid)
	}
	if p.CardType != card || !card.Secure() {
		return invalid("card_type", "keys for %q, not %q", p.CardType, card)
	}
	for _, vk := range append([]VersionedKeys{{KeyVersion: p.KeyVersion, Keys: p.Keys}}, derefKeys(p.Current)...) {
		if vk.KeyVersion == 0 {
			return invalid("key_version", "0 is the factory version")
		}
		if len(vk.Keys) != PersonalisationKeyCount(card) {
			return invalid("keys", "%d keys for a %s; want %d", len(vk.Keys), card, PersonalisationKeyCount(card))
		}
	}
	if p.Current != nil && p.Current.KeyVersion == p.KeyVersion {
		return invalid("current.key_version", "the same as key_version %d", p.KeyVersion)
	}
	return nil
}

func derefKeys(v *VersionedKeys) []VersionedKeys {
	if v == nil {
		return nil
	}
	return []VersionedKeys{*v}
}
