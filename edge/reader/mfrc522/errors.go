package mfrc522

import (
	"errors"
	"strings"

	"github.com/smartworkcenters/swc/edge/reader"
)

// The kinds of failure. Every error the driver returns matches one of them
// with errors.Is (and reader.ErrClosed after Close).
var (
	// ErrNoCard: no card answered a request.
	ErrNoCard = errors.New("no card in the field")
	// ErrTimeout: a card stopped answering in the middle of a read (taken
	// away too early), or the caller's deadline passed (the error then also
	// matches context.DeadlineExceeded).
	ErrTimeout = errors.New("timeout")
	// ErrCollision: several cards answered and the collision could not be
	// resolved (no valid collision position, or a collision where none can be).
	ErrCollision = errors.New("collision not resolved")
	// ErrCRC: a card's answer failed its CRC_A.
	ErrCRC = errors.New("CRC_A error")
	// ErrBCC: a card's UID part failed its block check character.
	ErrBCC = errors.New("BCC error")
	// ErrProtocol: an answer had the wrong length, a parity or framing error,
	// or contradicted ISO 14443-3.
	ErrProtocol = errors.New("protocol error")
	// ErrChipNotResponding: the chip does not answer on the bus, reads back
	// impossible values, or never completes a command. The next Next call
	// re-initialises the chip first.
	ErrChipNotResponding = errors.New("chip not responding")
	// ErrUnknownChip: VersionReg holds a value no known MFRC522 or clone has,
	// which usually means a wiring fault.
	ErrUnknownChip = errors.New("unknown chip version")
	// ErrSelfTest: the chip's digital self-test gave the wrong bytes.
	ErrSelfTest = errors.New("self-test failed")
	// ErrNoSelfTestReference: no reference bytes are known for this chip
	// version, so the self-test cannot conclude.
	ErrNoSelfTestReference = errors.New("no self-test reference for this chip version")
	// ErrATS: a card's answer to RATS breaks ISO/IEC 14443-4 or asks more
	// than the driver grants (see ParseATS).
	ErrATS = errors.New("invalid ATS")
	// ErrWTXLimit: a card asked for more waiting time extensions in a row
	// than the driver grants (a WTX storm).
	ErrWTXLimit = errors.New("too many waiting time extensions")
	// ErrNotISODEP: the card's SAK does not say ISO/IEC 14443-4 (bit 6,
	// 20h): it takes no APDUs.
	ErrNotISODEP = errors.New("card not ISO/IEC 14443-4 compliant")
	// ErrSessionClosed: an ISO-DEP session used after its Close, after an
	// error ended it, or after another session or a poll took the chip.
	ErrSessionClosed = errors.New("ISO-DEP session closed")
)

// Error is a failure with what the driver was doing and what it saw.
type Error struct {
	Op     string // what the driver was doing: "init", "REQA", "SELECT CL2", ...
	Kind   error  // one of the Err... values above
	Detail string // what was seen, for a technician
	Err    error  // the underlying cause (a bus error, the context's), or nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mfrc522: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the cause, for errors.Is and errors.As; a
// card error (ErrTimeout from a card, ErrCollision, ErrCRC, ErrBCC,
// ErrProtocol, ErrATS, ErrWTXLimit) also matches reader.ErrCard.
func (e *Error) Unwrap() []error {
	errs := []error{e.Kind}
	if e.card() {
		errs = append(errs, reader.ErrCard)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// card reports a failed exchange with a card (not the chip, not the caller's
// context, whose errors carry a cause).
func (e *Error) card() bool {
	if e.Err != nil {
		return false
	}
	switch e.Kind {
	case ErrTimeout, ErrCollision, ErrCRC, ErrBCC, ErrProtocol, ErrATS, ErrWTXLimit:
		return true
	}
	return false
}

func fail(op string, kind error, detail string) error {
	return &Error{Op: op, Kind: kind, Detail: detail}
}
