package agent

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/smartworkcenters/swc/edge/credential"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// simCards are the simulated secure badges a simulated door has made, by
// UID, card type and key version: presented again, the same card comes
// back, so that an NTAG 424 DNA's read counter goes on (a new card would
// start it from 0 and look like a replay).
type simCards struct {
	mu    sync.Mutex
	cards map[string]*desfiresim.Card
}

// maxSimCards bounds the simulated cards kept; beyond it they are all
// forgotten (a simulation, not a door's state).
const maxSimCards = 256

// simSecureCard makes (or finds again) the simulated card that POST
// /v1/sim/tap presents for kind (a protocol.CardType, or SimCardClone)
// and key version v (0: the newest the door knows for the badge).
//
// A simulated door has no card master key, and needs none: the one key a
// tap uses is the badge's door key, which the door's whitelist entry holds
// for each key version it accepts. So the card is made as a personalised
// badge holding that door key under version v, its other application keys
// random (no one knows them: the card can be authenticated, not re-keyed),
// with the NTAG 424 DNA's read counter enabled as personalisation leaves
// it. A badge the door does not list with this card type, or a version it
// has no door key for, gets a random door key: the door refuses it as it
// would a card personalised by someone else (denied_auth_failed).
func (a *Agent) simSecureCard(ctx context.Context, uid protocol.UID, kind string, v uint8) (*desfiresim.Card, error) {
	if kind == SimCardClone {
		return desfiresim.NewMagicClone(uid.Bytes(), desfiresim.Options{CloneGarbage: true})
	}
	t, err := protocol.ParseCardType(kind)
	if err != nil || !t.Secure() {
		return nil, fmt.Errorf("card %q: want %s, %s or %s", kind, protocol.CardNTAG424DNA, protocol.CardDESFireEV2, SimCardClone)
	}
	e, found, err := a.store.Entry(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("the badge's whitelist entry: %w", err)
	}
	var door *protocol.DoorKey
	if found && e.Card == t {
		for i := range e.Keys {
			if k := &e.Keys[i]; (v == 0 && (door == nil || k.Version > door.Version)) || k.Version == v {
				door = k
			}
		}
	}
	if v == 0 {
		v = 1
		if door != nil {
			v = door.Version
		}
	}
	id := fmt.Sprintf("%s/%s/%d", uid, t, v)
	s := &a.simCards
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cards[id]; c != nil {
		return c, nil
	}
	keys := make([]desfiresim.Key, credential.KeyCount(t))
	for i := range keys {
		keys[i].Version = v
		if door != nil && i == int(desfire.KeyDoor) {
			keys[i].Value = door.Key
			continue
		}
		if _, err := rand.Read(keys[i].Value[:]); err != nil {
			return nil, err
		}
	}
	var c *desfiresim.Card
	if t == protocol.CardNTAG424DNA {
		c, err = desfiresim.NewNTAG424(uid.Bytes(), desfiresim.Options{Keys: keys, SDMEnabled: true, SDMCtrRetKey: desfire.KeyDoor})
	} else {
		c, err = desfiresim.NewDESFireEV2(uid.Bytes(), desfiresim.Options{Apps: []desfiresim.App{{AID: credential.DESFireAID, KeySettings: 0x09, Keys: keys}}})
	}
	if err != nil {
		return nil, err
	}
	if len(s.cards) >= maxSimCards || s.cards == nil {
		s.cards = map[string]*desfiresim.Card{}
	}
	s.cards[id] = c
	return c, nil
}
