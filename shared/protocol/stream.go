package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// MaxSeq bounds every event sequence number (and every ack's through).
//
// A door numbers the events of each of its stores from 1 and at 2,000 taps
// a day would need millions of years to reach 2^32-1; a store that ever got
// there starts a new store identity (edge/store). The bound is part of the
// protocol so that one forged number (2^63-1 from someone holding a door's
// secret, or 2^63 and above, which SQL's signed integers cannot hold) is
// refused at decoding with ErrSeqRange, counted, and never reaches the
// central's store, its enrollment arithmetic or its acknowledgements. It also
// leaves the central room to place each store's numbers in a range of its
// own (central/store: a store's seq s is kept as slot×2^32 + s).
const MaxSeq uint64 = 1<<32 - 1

// MaxStoreIDLen is the longest store identity.
const MaxStoreIDLen = 32

// NewStoreID returns a fresh random store identity: 16 lower-case hex
// digits (64 random bits). A door's database takes a new one every time it
// is opened (edge/store), so that no two databases of a door, and no
// restored copy of one, ever number events in the same stream.
func NewStoreID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("protocol: crypto/rand: %v", err)) // never fails on Linux (Go 1.24+ crashes anyway)
	}
	return hex.EncodeToString(b[:])
}

// ValidStoreID reports why s is not a valid store identity, or nil: an
// identifier (ValidID) of at most MaxStoreIDLen bytes.
func ValidStoreID(s string) error {
	if len(s) > MaxStoreIDLen {
		return fmt.Errorf("longer than %d bytes", MaxStoreIDLen)
	}
	return ValidID(s)
}

// checkStoreID checks an optional store identity ("" is the stream of a
// door from before store identities).
func checkStoreID(field, s string) error {
	if s == "" {
		return nil
	}
	if err := ValidStoreID(s); err != nil {
		return invalid(field, "%q: %v", s, err)
	}
	return nil
}

func seqRange(field string, seq uint64) *Error {
	return &Error{Kind: ErrSeqRange, Field: field, Detail: fmt.Sprintf("%d above %d", seq, MaxSeq)}
}
