package credential

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// AppKeys are one card's application keys of one key version, diversified
// by the central for that card (desfire.CardKey): key 0 (application master
// key) first, then the door key and, on an NTAG 424 DNA, keys 2 to 4.
type AppKeys struct {
	Version uint8
	Keys    []protocol.CardKey
}

// KeyCount returns how many application keys a card type has in the network.
func KeyCount(t protocol.CardType) int { return protocol.PersonalisationKeyCount(t) }

func (k *AppKeys) check(t protocol.CardType, what string) error {
	if len(k.Keys) != KeyCount(t) {
		return fmt.Errorf("credential: %s keys: %d keys for a %s, want %d", what, len(k.Keys), t, KeyCount(t))
	}
	if k.Version == 0 {
		return fmt.Errorf("credential: %s keys: version 0 is the factory version", what)
	}
	return nil
}

// Personalisation outcomes.
type Outcome string

// What Personalise did.
const (
	Personalised Outcome = "personalised" // a factory card (or one pulled away mid-way) became a network badge
	Rekeyed      Outcome = "re-keyed"     // a network badge of the previous version got the new version's keys
	AlreadyDone  Outcome = "already"      // the card already holds these keys; nothing to do
)

// ErrForeignCard is a card whose application master key is neither the
// factory key nor the network's (of the versions given): it belongs to
// someone else, and is left untouched.
var ErrForeignCard = errors.New("credential: the card is personalised by someone else (its application master key is neither the factory key nor the network's)")

// DESFire key settings of the network's application: key 0 changes keys,
// settings are changeable, no free create/delete, free directory listing
// during personalisation (0x0B); after it, no free create/delete (0x09).
const (
	desfireAppSettings   byte = 0x0B
	desfireFinalSettings byte = 0x09
)

// Personalise turns the card in the field into a network badge of keys'
// version, with its diversified application keys (from the central's
// personalisation endpoint), following shared/desfire's personalisation
// recipe: key 0 is changed last, so a card pulled away mid-way still opens
// with its old key 0 and the next call rolls forward (a key already changed
// is recognised by the card's integrity error and set again under its new
// value). from, when not nil, are the card's current network keys of an
// older version (a re-key at a station during a rotation); otherwise the
// card starts from the factory (all-zero keys, version 0). A card whose key
// 0 opens with neither from's, the factory's nor keys' own key 0 is refused
// with ErrForeignCard and left untouched.
func Personalise(ctx context.Context, t desfire.Transceiver, card protocol.CardType, keys AppKeys, from *AppKeys, random io.Reader) (Outcome, error) {
	if !card.Secure() {
		return "", fmt.Errorf("credential: card type %q is not a secure card", card)
	}
	if err := keys.check(card, "new"); err != nil {
		return "", err
	}
	old := AppKeys{Keys: make([]protocol.CardKey, KeyCount(card))} // the factory's
	outcome := Personalised
	if from != nil {
		if err := from.check(card, "current"); err != nil {
			return "", err
		}
		old, outcome = *from, Rekeyed
	}
	p := &personaliser{c: desfire.New(t, random), card: card, keys: keys, old: old}
	// Which key 0 does the card hold?
	switch err := p.authOld(ctx); {
	case err == nil:
	case !desfire.IsAuthFailure(err):
		return "", err
	default:
		if from != nil { // maybe still at the factory (a station re-keying a card never personalised)
			p.old = AppKeys{Keys: make([]protocol.CardKey, KeyCount(card))}
			if err := p.authOld(ctx); err == nil {
				outcome = Personalised
				break
			} else if !desfire.IsAuthFailure(err) {
				return "", err
			}
		}
		if err := p.auth(ctx, keys.Keys[0]); err != nil {
			if desfire.IsAuthFailure(err) {
				return "", fmt.Errorf("%w: %w", ErrForeignCard, err)
			}
			return "", err
		}
		return AlreadyDone, p.finish(ctx, true)
	}
	if err := p.settings(ctx); err != nil {
		return "", err
	}
	for k := 1; k < len(keys.Keys); k++ {
		if err := p.changeKey(ctx, byte(k)); err != nil {
			return "", err
		}
	}
	if err := p.c.ChangeKey(ctx, desfire.KeyAppMaster, nil, keys.Keys[0][:], keys.Version); err != nil {
		return "", fmt.Errorf("credential: changing key 0: %w", err)
	}
	if err := p.auth(ctx, keys.Keys[0]); err != nil {
		return "", fmt.Errorf("credential: the new key 0 does not open the card: %w", err)
	}
	return outcome, p.finish(ctx, false)
}

type personaliser struct {
	c    *desfire.Card
	card protocol.CardType
	keys AppKeys
	old  AppKeys
}

// selectApp selects the network's application; on a DESFire without it, it
// creates it (a factory PICC lets anyone).
func (p *personaliser) selectApp(ctx context.Context) error {
	if p.card == protocol.CardNTAG424DNA {
		return p.c.SelectNTAG424Application(ctx)
	}
	err := p.c.SelectApplication(ctx, DESFireAID)
	if !errors.Is(err, desfire.ErrApplicationNotFound) {
		return err
	}
	if err := p.c.SelectApplication(ctx, [3]byte{}); err != nil {
		return err
	}
	if err := p.c.CreateApplication(ctx, DESFireAID, desfireAppSettings, byte(KeyCount(p.card))); err != nil {
		if errors.Is(err, desfire.ErrPermissionDenied) || errors.Is(err, desfire.ErrAuthenticationError) {
			return fmt.Errorf("%w: the card refuses a new application: %w", ErrForeignCard, err)
		}
		return fmt.Errorf("credential: creating the application: %w", err)
	}
	return p.c.SelectApplication(ctx, DESFireAID)
}

func (p *personaliser) auth(ctx context.Context, key0 protocol.CardKey) error {
	if err := p.selectApp(ctx); err != nil {
		return err
	}
	return p.c.AuthenticateEV2First(ctx, desfire.KeyAppMaster, key0[:])
}

func (p *personaliser) authOld(ctx context.Context) error { return p.auth(ctx, p.old.Keys[0]) }

// settings enables the NTAG 424 DNA's SDM read counter, readable with the
// door key, unless it is already.
func (p *personaliser) settings(ctx context.Context) error {
	if p.card != protocol.CardNTAG424DNA {
		return nil
	}
	fs, err := p.c.GetFileSettings(ctx, desfire.NTAG424NDEFFile)
	if err != nil {
		return fmt.Errorf("credential: reading the NDEF file settings: %w", err)
	}
	if len(fs) > 1 && fs[1]&0x40 != 0 {
		return nil
	}
	if err := p.c.ChangeFileSettings(ctx, desfire.NTAG424NDEFFile, desfire.NTAG424SDMCounterSettings(desfire.KeyDoor)); err != nil {
		return fmt.Errorf("credential: enabling the SDM read counter: %w", err)
	}
	return nil
}

// changeKey sets key k; a key already changed by an interrupted attempt
// (the card's integrity error: its value is not the old one) is set again
// from its new value, which also proves it holds the new value.
func (p *personaliser) changeKey(ctx context.Context, k byte) error {
	newKey := p.keys.Keys[k]
	err := p.c.ChangeKey(ctx, k, p.old.Keys[k][:], newKey[:], p.keys.Version)
	if errors.Is(err, desfire.ErrIntegrity) {
		if err = p.authOld(ctx); err == nil {
			err = p.c.ChangeKey(ctx, k, newKey[:], newKey[:], p.keys.Version)
		}
	}
	if err != nil {
		return fmt.Errorf("credential: changing key %d: %w", k, err)
	}
	return nil
}

// finish locks the DESFire application's key settings (under the new key 0,
// whose session is open); it is idempotent. check reads them first.
func (p *personaliser) finish(ctx context.Context, check bool) error {
	if p.card != protocol.CardDESFireEV2 {
		return nil
	}
	if check {
		ks, err := p.c.GetKeySettings(ctx)
		if err != nil {
			return fmt.Errorf("credential: reading the key settings: %w", err)
		}
		if ks.Settings == desfireFinalSettings {
			return nil
		}
	}
	if err := p.c.ChangeKeySettings(ctx, desfireFinalSettings); err != nil {
		return fmt.Errorf("credential: locking the key settings: %w", err)
	}
	return nil
}
