package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader/mfrc522"
	"github.com/smartworkcenters/swc/edge/reader/mfrc522/mfrc522sim"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// wiredCard is the register-level simulator's card for a simulated secure
// badge, powered up afresh.
func wiredCard(typ protocol.CardType, uid []byte, app *desfiresim.Card) mfrc522sim.CardSpec {
	app.Reset()
	spec := mfrc522sim.NewCard(uid, mfrc522sim.DESFire)
	spec.ISODEP = &mfrc522sim.ISODEP{App: app, ATS: mfrc522sim.DESFireATS}
	if typ == protocol.CardNTAG424DNA {
		spec.ISODEP.ATS = mfrc522sim.NTAG424ATS
	}
	return spec
}

// TestSecureTapOnTheWiredDriver runs secure badges through the agent on
// the real MFRC522 driver and the register-level simulator: the agent
// authenticates them through the driver's Card.APDU (ISO 14443-4 over the
// chip) and grants, a clone is denied with the alarm, and a badge pulled
// away in the middle of its authentication gets no decision at all and is
// granted at its next presentation.
func TestSecureTapOnTheWiredDriver(t *testing.T) {
	chip := mfrc522sim.New(mfrc522sim.Options{WallClock: true})
	dev, err := mfrc522.New(chip, &mfrc522.Options{PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	h := newHarness(t, harnessOpts{reader: dev})
	h.start()
	staff := protocol.Grant{Kind: protocol.GrantStaff}
	badges := []*secureBadge{
		personalise(t, protocol.CardNTAG424DNA, []byte{0x08, 0x24, 0x24, 0x11}, "m-ntag4", staff),
		personalise(t, protocol.CardNTAG424DNA, []byte{0x04, 0x24, 0x24, 0x17, 0x80, 0x1D, 0x80}, "m-ntag7", staff),
		personalise(t, protocol.CardDESFireEV2, []byte{0x08, 0xDE, 0x5F, 0x14}, "m-ev2-4", staff),
		personalise(t, protocol.CardDESFireEV2, []byte{0x04, 0xDE, 0x5F, 0x17, 0x80, 0x1D, 0x80}, "m-ev2-7", staff),
	}
	var entries []protocol.Entry
	for _, b := range badges {
		entries = append(entries, b.entry)
	}
	h.load(1, false, entries)

	n := 0
	for _, b := range badges {
		c, err := chip.Present(wiredCard(b.card, b.uid, b.sim))
		require.NoError(t, err)
		n++
		ev := h.waitOutbox(n, "the tap of "+b.entry.Member)[n-1]
		assert.Equal(t, protocol.GrantedStaff, ev.Reason, b.entry.Member)
		assert.Equal(t, b.entry.UID, ev.UID)
		if b.card == protocol.CardNTAG424DNA {
			assert.NotZero(t, ev.ReadCounter)
			assert.Equal(t, b.sim.SDMReadCounter(), ev.ReadCounter, "the authenticated counter is recorded")
		}
		h.eventually(func() bool { return h.lock.unlockedWrites() == n }, "relay unlocked for "+b.entry.Member)
		chip.Remove(c)
	}

	// A clone of each card type: denied, with the alarm.
	for _, b := range []*secureBadge{badges[1], badges[2]} {
		clone, err := desfiresim.NewMagicClone(b.uid, desfiresim.Options{CloneGarbage: true})
		require.NoError(t, err)
		h.later(3 * time.Second)
		c, err := chip.Present(wiredCard(b.card, b.uid, clone))
		require.NoError(t, err)
		n += 2
		evs := h.waitOutbox(n, "the clone's tap and alarm")
		assert.Equal(t, "tap:denied_auth_failed suspected_clone", kinds(evs[n-2:]))
		chip.Remove(c)
	}

	// Pulled away mid-authentication (every ISO 14443-4 answer after the
	// fourth lost, whatever the retries): a card error, no decision.
	for _, b := range []*secureBadge{badges[0], badges[3]} {
		h.later(3 * time.Second)
		errorsBefore := h.agent.m.secureAuth.With("card_error").Value()
		c, err := chip.Present(wiredCard(b.card, b.uid, b.sim))
		require.NoError(t, err)
		c.Inject(mfrc522sim.Fault{Kind: mfrc522sim.Pulled, On: mfrc522sim.Block, After: 4, Count: 1 << 20})
		h.eventually(func() bool { return h.agent.m.secureAuth.With("card_error").Value() > errorsBefore }, "the card error")
		chip.Remove(c)
		time.Sleep(20 * time.Millisecond)
		assert.Len(t, h.outbox(), n, "no decision for "+b.entry.Member)

		c, err = chip.Present(wiredCard(b.card, b.uid, b.sim))
		require.NoError(t, err)
		n++
		assert.Equal(t, protocol.GrantedStaff, h.waitOutbox(n, "the next presentation")[n-1].Reason)
		chip.Remove(c)
	}
	h.eventually(func() bool { return h.lock.unlockedWrites() == 6 }, "the last grant's relay")
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 6, h.lock.unlockedWrites(), "the badges opened, never the clones nor a pulled card")
}
