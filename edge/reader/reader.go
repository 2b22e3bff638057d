// Package reader defines what the door agent needs from a badge reader,
// whatever the chip behind it (MFRC522 today, PN532 later, a simulator in
// development).
package reader

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// Card is a badge as the reader saw it.
type Card struct {
	UID  []byte  // 4, 7 or 10 bytes, checked (BCC and CRC_A) by the driver
	ATQA [2]byte // answer to request, as received (LSB first)
	SAK  byte    // select acknowledge of the last cascade level
	// APDU, when not nil, exchanges ISO 7816-4 APDUs with the card while it
	// stays in the field (ISO 14443-4); it is valid until the next call to
	// Next. A reader or driver without ISO 14443-4, or a card without it
	// (SAK bit 0x20 clear), leaves it nil.
	APDU Transceiver
}

// Transceiver sends one command APDU to the card and returns its complete
// response, status bytes included (the shape of desfire.Transceiver). An
// error is a transport failure (the card left the field, a broken frame, or
// the presentation is over): it matches ErrCard with errors.Is.
type Transceiver interface {
	Transceive(ctx context.Context, apdu []byte) ([]byte, error)
}

// ID returns the card's UID in the wire protocol's form.
func (c Card) ID() protocol.UID { return protocol.UIDFromBytes(c.UID) }

// Type names the card family from its SAK, as far as ISO 14443-3 tells (NXP AN10833).
func (c Card) Type() string {
	switch c.SAK &^ 0x04 {
	case 0x00:
		return "MIFARE Ultralight / NTAG"
	case 0x08:
		return "MIFARE Classic 1K"
	case 0x18:
		return "MIFARE Classic 4K"
	case 0x09:
		return "MIFARE Mini"
	case 0x10, 0x11:
		return "MIFARE Plus"
	case 0x20:
		return "ISO 14443-4 (DESFire or other smart card)"
	case 0x28, 0x38:
		return "MIFARE Classic with ISO 14443-4 (emulated)"
	}
	return fmt.Sprintf("unknown (SAK %#02x)", c.SAK)
}

func (c Card) String() string {
	return fmt.Sprintf("UID %s ATQA %02X%02X SAK %02X (%s)", c.ID(), c.ATQA[0], c.ATQA[1], c.SAK, c.Type())
}

// Reader reads badges.
type Reader interface {
	// Next blocks until a card is newly presented and returns it. A card left
	// in the field is returned once; taking it away and presenting it again is
	// a new presentation. Next honours ctx's deadline and cancellation. A
	// failed read of a card returns an error matching ErrCard, and the next
	// call reads that card afresh. After an error that says the chip stopped
	// answering, the next call tries to bring the chip back first.
	Next(ctx context.Context) (Card, error)
	// Close releases the reader; it is idempotent. Next after Close returns
	// ErrClosed.
	Close() error
}

// ErrClosed is returned by a reader used after Close.
var ErrClosed = errors.New("reader closed")

// ErrCard marks a failed read of one card, with a reader that works: the
// card taken away in the middle of the read (a quick tap), a garbled,
// colliding or CRC-failed answer, a card that breaks the protocol. Drivers
// return errors that match it with errors.Is; any other error from Next is
// a reader fault (the chip not answering, a wrong chip version). The door
// agent counts card errors and retries at once; it reports reader faults
// and retries with backoff.
var ErrCard = errors.New("card not read")
