// Package credential is the edge's side of secure badges (NTAG 424 DNA and
// MIFARE DESFire EV2/EV3, package shared/desfire): the door's authentication
// of a badge its whitelist lists as secure, and the personalisation station's
// turning of a factory card into a network badge. Both speak to the card
// through an APDU channel (reader.Card.APDU) and follow the recipes and the
// key custody of shared/desfire's package documentation.
package credential

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// DESFireAID is the network's application on DESFire EV2/EV3 badges ("SWC").
var DESFireAID = desfire.NetworkDESFireAID

// DiversificationAID returns the AID that enters a card type's key
// diversification (desfire.CardKey).
func DiversificationAID(t protocol.CardType) ([3]byte, error) {
	switch t {
	case protocol.CardNTAG424DNA:
		return desfire.NTAG424DiversificationAID, nil
	case protocol.CardDESFireEV2:
		return DESFireAID, nil
	}
	return [3]byte{}, fmt.Errorf("credential: card type %q is not a secure card", t)
}

// ErrAuthFailed marks a card that did not prove it holds its door key: a
// suspected clone. Any other error from Authenticate is a transport or card
// error (the card pulled away mid-exchange): no decision is made on it.
var ErrAuthFailed = errors.New("credential: card failed authentication")

// Result is what a successful authentication learnt.
type Result struct {
	KeyVersion  uint8  // the key version the card holds (and authenticated with)
	ReadCounter uint32 // NTAG 424 DNA: the authenticated SDM read counter
	HasCounter  bool   // ReadCounter was read (NTAG 424 DNA)
}

// Authenticate proves that the card in the field holds the door key of its
// whitelist entry e, valid at now: it selects the network's application,
// reads the key version of the door key (GetKeyVersion), and authenticates
// with the entry's door key of that version (AuthenticateEV2First, AES). For
// an NTAG 424 DNA it first reads the NDEF file unauthenticated (the card
// counts that read) and, authenticated, reads the SDM read counter.
//
// An error matching ErrAuthFailed means the card failed to prove the key
// (desfire.IsAuthFailure: wrong cryptogram or MAC, no such application,
// file or key; a malformed answer; a key version the entry has no door key
// for at now, such as an old version after its cut-off). Any other error
// is a transport error.
func Authenticate(ctx context.Context, t desfire.Transceiver, e *protocol.Entry, now time.Time, random io.Reader) (Result, error) {
	if !e.Card.Secure() {
		return Result{}, fmt.Errorf("credential: badge %s is not a secure badge", e.UID)
	}
	c := desfire.New(t, random)
	res, err := authenticate(ctx, c, e, now)
	if err != nil && (desfire.IsAuthFailure(err) || errors.Is(err, desfire.ErrMalformed)) && !errors.Is(err, ErrAuthFailed) {
		err = fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	return res, err
}

func authenticate(ctx context.Context, c *desfire.Card, e *protocol.Entry, now time.Time) (Result, error) {
	var res Result
	ntag := e.Card == protocol.CardNTAG424DNA
	var err error
	if ntag {
		err = c.SelectNTAG424Application(ctx)
	} else {
		err = c.SelectApplication(ctx, DESFireAID)
	}
	if err != nil {
		return res, err
	}
	v, err := c.GetKeyVersion(ctx, desfire.KeyDoor)
	if err != nil {
		return res, err
	}
	key, ok := e.DoorKeyFor(v, now.UnixMilli())
	if !ok {
		return res, fmt.Errorf("%w: the card holds key version %d, which badge %s's entry has no valid door key for", ErrAuthFailed, v, e.UID)
	}
	res.KeyVersion = v
	if ntag {
		// The first unauthenticated read after another command increments
		// the SDM read counter (shared/desfire's door recipe).
		if _, err := c.ReadData(ctx, desfire.NTAG424NDEFFile, 0, 16, desfire.Plain); err != nil {
			return res, err
		}
	}
	if err := c.AuthenticateEV2First(ctx, desfire.KeyDoor, key[:]); err != nil {
		return res, err
	}
	if ntag {
		n, err := c.GetFileCounters(ctx, desfire.NTAG424NDEFFile)
		if err != nil {
			return res, err
		}
		res.ReadCounter, res.HasCounter = n, true
	}
	return res, nil
}
