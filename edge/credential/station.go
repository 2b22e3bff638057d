package credential

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Central is what a personalisation station asks of the central service
// (swc-edge enroll-badge --secure wires it over HTTPS with the technician's
// API token).
type Central interface {
	// Keys returns the card's application keys to write (POST
	// /badges/{uid}/personalisation).
	Keys(ctx context.Context, uid protocol.UID, card protocol.CardType) (protocol.Personalisation, error)
	// Register records the badge as secure with its card type and key
	// version, for member (a new badge) or keeping its member (a badge
	// already registered).
	Register(ctx context.Context, uid protocol.UID, member string, card protocol.CardType, keyVersion uint8) error
}

// ErrNoAPDU is a reader, or a card, without an ISO 14443-4 channel: the card
// cannot be personalised there.
var ErrNoAPDU = errors.New("credential: no ISO 14443-4 channel to the card (a reader driver without APDU support, or not an NTAG 424 DNA or DESFire card)")

// Enrolled is what Enroll did.
type Enrolled struct {
	UID        protocol.UID
	Card       protocol.CardType
	KeyVersion uint8
	Outcome    Outcome
}

// Enroll turns the card in the field into a secure network badge for
// member: it finds the card type (when card is ""), fetches the card's keys
// from the central, personalises (or re-keys, or finishes a personalisation
// that was pulled away) the card, and registers it at the central. A card
// personalised by someone else is refused (ErrForeignCard) and left
// untouched. Run again after any failure: it rolls forward.
func Enroll(ctx context.Context, c reader.Card, card protocol.CardType, member string, central Central, random io.Reader) (Enrolled, error) {
	if c.APDU == nil {
		return Enrolled{}, ErrNoAPDU
	}
	uid := c.ID()
	if err := uid.Validate(); err != nil {
		return Enrolled{}, fmt.Errorf("credential: card UID %q: %w", uid, err)
	}
	if card == "" {
		var err error
		if card, err = Detect(ctx, c.APDU); err != nil {
			return Enrolled{}, err
		}
	}
	p, err := central.Keys(ctx, uid, card)
	if err != nil {
		return Enrolled{}, fmt.Errorf("credential: the central's keys for badge %s: %w", uid, err)
	}
	if err := p.Validate(uid, card); err != nil {
		return Enrolled{}, fmt.Errorf("credential: the central's keys for badge %s: %w", uid, err)
	}
	keys := AppKeys{Version: p.KeyVersion, Keys: p.Keys}
	var from *AppKeys
	if p.Current != nil {
		from = &AppKeys{Version: p.Current.KeyVersion, Keys: p.Current.Keys}
	}
	out, err := Personalise(ctx, c.APDU, card, keys, from, random)
	if err != nil {
		return Enrolled{}, err
	}
	if err := central.Register(ctx, uid, member, card, keys.Version); err != nil {
		return Enrolled{}, fmt.Errorf("credential: badge %s is personalised (key version %d) but not registered; run again to register it: %w", uid, keys.Version, err)
	}
	return Enrolled{UID: uid, Card: card, KeyVersion: keys.Version, Outcome: out}, nil
}

// Detect tells an NTAG 424 DNA (its NDEF application answers the ISO
// SELECT) from a DESFire card.
func Detect(ctx context.Context, t desfire.Transceiver) (protocol.CardType, error) {
	err := desfire.New(t, nil).SelectNTAG424Application(ctx)
	switch {
	case err == nil:
		return protocol.CardNTAG424DNA, nil
	case errors.Is(err, desfire.ErrFileNotFound), errors.Is(err, desfire.ErrIllegalCommand):
		return protocol.CardDESFireEV2, nil
	}
	return "", fmt.Errorf("credential: card type: %w", err)
}
