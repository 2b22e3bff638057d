package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Whitelist entries are stored in a compact binary form, so that 100,000
// badges take a few megabytes of file and page cache:
//
//	flags byte (bit 0: revoked, bit 1: secure badge)
//	uvarint len, member bytes
//	uvarint grant count, then per grant:
//	  kind byte (1 booking, 2 pass, 3 staff), varint from, varint to,
//	  uvarint len, room bytes, uvarint len, ref bytes
//	for a secure badge: card byte (1 ntag424dna, 2 desfire_ev2), key count
//	  byte, then per door key: version byte, 16 key bytes, varint not-after ms
//
// The key is the UID's raw bytes (4, 7 or 10).

const (
	kindBooking byte = 1
	kindPass    byte = 2
	kindStaff   byte = 3
)

var errCorrupt = errors.New("corrupt whitelist record")

const (
	flagRevoked byte = 1 << 0
	flagSecure  byte = 1 << 1

	cardNTAG424    byte = 1
	cardDESFireEV2 byte = 2
)

func cardByte(t protocol.CardType) byte {
	if t == protocol.CardDESFireEV2 {
		return cardDESFireEV2
	}
	return cardNTAG424
}

func cardType(b byte) protocol.CardType {
	switch b {
	case cardNTAG424:
		return protocol.CardNTAG424DNA
	case cardDESFireEV2:
		return protocol.CardDESFireEV2
	}
	return ""
}

func grantKindByte(k protocol.GrantKind) byte {
	switch k {
	case protocol.GrantBooking:
		return kindBooking
	case protocol.GrantPass:
		return kindPass
	case protocol.GrantStaff:
		return kindStaff
	}
	return 0
}

func grantKind(b byte) protocol.GrantKind {
	switch b {
	case kindBooking:
		return protocol.GrantBooking
	case kindPass:
		return protocol.GrantPass
	case kindStaff:
		return protocol.GrantStaff
	}
	return ""
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeEntry appends e's value encoding to b.
func encodeEntry(b []byte, e *protocol.Entry) []byte {
	var flags byte
	if e.Revoked {
		flags |= flagRevoked
	}
	if e.Card.Secure() {
		flags |= flagSecure
	}
	b = append(b, flags)
	b = appendString(b, e.Member)
	b = binary.AppendUvarint(b, uint64(len(e.Grants)))
	for i := range e.Grants {
		g := &e.Grants[i]
		b = append(b, grantKindByte(g.Kind))
		b = binary.AppendVarint(b, g.From)
		b = binary.AppendVarint(b, g.To)
		b = appendString(b, g.Room)
		b = appendString(b, g.Ref)
	}
	if flags&flagSecure != 0 {
		b = append(b, cardByte(e.Card), byte(len(e.Keys)))
		for i := range e.Keys {
			k := &e.Keys[i]
			b = append(b, k.Version)
			b = append(b, k.Key[:]...)
			b = binary.AppendVarint(b, k.NotAfterMs)
		}
	}
	return b
}

// decoder reads the value encoding; its first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// decodeEntry decodes a stored value into e, reusing e.Grants. With refs
// false it skips the grants' Ref (decisions do not need it).
func decodeEntry(uid protocol.UID, v []byte, e *protocol.Entry, refs bool) error {
	d := decoder{b: v}
	flags := d.byte()
	member := d.bytes()
	n := d.uvarint()
	if d.err != nil || n > protocol.MaxGrantsPerEntry {
		return fmt.Errorf("badge %s: %w", uid, errCorrupt)
	}
	e.UID, e.Revoked, e.Member = uid, flags&flagRevoked != 0, string(member)
	e.Grants = e.Grants[:0]
	for i := uint64(0); i < n; i++ {
		g := protocol.Grant{Kind: grantKind(d.byte()), From: d.varint(), To: d.varint()}
		if room := d.bytes(); len(room) > 0 {
			g.Room = string(room)
		}
		if ref := d.bytes(); refs && len(ref) > 0 {
			g.Ref = string(ref)
		}
		e.Grants = append(e.Grants, g)
	}
	e.Card, e.Keys = "", e.Keys[:0]
	if flags&flagSecure != 0 {
		e.Card = cardType(d.byte())
		n := d.byte()
		if e.Card == "" || n == 0 || n > protocol.MaxDoorKeys {
			return fmt.Errorf("badge %s: %w", uid, errCorrupt)
		}
		for range n {
			k := protocol.DoorKey{Version: d.byte()}
			if d.err == nil && len(d.b) >= protocol.CardKeySize {
				copy(k.Key[:], d.b)
				d.b = d.b[protocol.CardKeySize:]
			} else {
				d.err = errCorrupt
			}
			k.NotAfterMs = d.varint()
			e.Keys = append(e.Keys, k)
		}
	}
	if len(e.Keys) == 0 {
		e.Keys = nil
	}
	if d.err != nil || len(d.b) != 0 {
		return fmt.Errorf("badge %s: %w", uid, errCorrupt)
	}
	return nil
}

// header is the stored whitelist header (meta key "wl") and, with Parts set,
// the header of a snapshot being staged.
type header struct {
	Version   uint64
	IssuedMs  int64
	ExpiresMs int64
	Badges    uint64 // entries held (not used for staging)
	Parts     uint64 // staging only
	Center    string
	Room      string
	// RequireSecure: the center refuses UID-only badges. Encoded as a
	// trailing byte only when set, so headers from before it decode as false.
	RequireSecure bool
	// HeldOpenS: the network's held-open threshold (protocol
	// Whitelist.HeldOpenS; 0: none, the door's own). Encoded after the
	// RequireSecure byte (then always written) as a uvarint, only when set.
	HeldOpenS int
}

func (h *header) encode() []byte {
	b := binary.AppendUvarint(nil, h.Version)
	b = binary.AppendVarint(b, h.IssuedMs)
	b = binary.AppendVarint(b, h.ExpiresMs)
	b = binary.AppendUvarint(b, h.Badges)
	b = binary.AppendUvarint(b, h.Parts)
	b = appendString(b, h.Center)
	b = appendString(b, h.Room)
	if h.RequireSecure || h.HeldOpenS != 0 {
		secure := byte(0)
		if h.RequireSecure {
			secure = 1
		}
		b = append(b, secure)
	}
	if h.HeldOpenS != 0 {
		b = binary.AppendUvarint(b, uint64(h.HeldOpenS))
	}
	return b
}

func decodeHeader(v []byte) (header, error) {
	d := decoder{b: v}
	h := header{Version: d.uvarint(), IssuedMs: d.varint(), ExpiresMs: d.varint(), Badges: d.uvarint(), Parts: d.uvarint()}
	h.Center = string(d.bytes())
	h.Room = string(d.bytes())
	if d.err == nil && len(d.b) > 0 {
		h.RequireSecure = d.byte() == 1
	}
	if d.err == nil && len(d.b) > 0 {
		s := d.uvarint()
		if s == 0 || s > protocol.MaxHeldOpenSeconds {
			d.err = errCorrupt
		}
		h.HeldOpenS = int(s)
	}
	if d.err != nil || len(d.b) != 0 {
		return header{}, errors.New("corrupt whitelist header")
	}
	return h, nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}
