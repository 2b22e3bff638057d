package agent

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/credential"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var (
	cardMasterV1 = []byte("test master v.1.")
	cardMasterV2 = []byte("test master v.2.")
)

// secureBadge is a simulated card personalised at a station (through the
// fake reader's APDU channel) and its whitelist entry, as the central
// compiles it: the door key of each key version given.
type secureBadge struct {
	uid   []byte
	card  protocol.CardType
	sim   *desfiresim.Card
	keys  map[uint8]credential.AppKeys
	entry protocol.Entry
}

func appKeysFor(t *testing.T, master, uid []byte, card protocol.CardType, v uint8) credential.AppKeys {
	t.Helper()
	aid, err := credential.DiversificationAID(card)
	require.NoError(t, err)
	k := credential.AppKeys{Version: v}
	for n := range credential.KeyCount(card) {
		key, err := desfire.CardKey(master, uid, aid, byte(n))
		require.NoError(t, err)
		k.Keys = append(k.Keys, protocol.CardKey(key))
	}
	return k
}

func personalise(t *testing.T, card protocol.CardType, uid []byte, member string, grants ...protocol.Grant) *secureBadge {
	t.Helper()
	b := &secureBadge{uid: uid, card: card, keys: map[uint8]credential.AppKeys{}}
	var err error
	if card == protocol.CardNTAG424DNA {
		b.sim, err = desfiresim.NewNTAG424(uid, desfiresim.Options{})
	} else {
		b.sim, err = desfiresim.NewDESFireEV2(uid, desfiresim.Options{})
	}
	require.NoError(t, err)
	b.keys[1] = appKeysFor(t, cardMasterV1, uid, card, 1)
	b.keys[2] = appKeysFor(t, cardMasterV2, uid, card, 2)
	station := readerfake.New()
	require.NoError(t, station.PresentSecure(b.sim, 0))
	c, err := station.Next(context.Background())
	require.NoError(t, err)
	_, err = credential.Personalise(context.Background(), c.APDU, card, b.keys[1], nil, nil)
	require.NoError(t, err)
	b.entry = protocol.Entry{UID: protocol.UIDFromBytes(uid), Member: member, Grants: grants, Card: card,
		Keys: []protocol.DoorKey{{Version: 1, Key: b.keys[1].Keys[desfire.KeyDoor]}}}
	return b
}

// rekey re-keys the badge to version 2 at a station.
func (b *secureBadge) rekey(t *testing.T) {
	t.Helper()
	station := readerfake.New()
	require.NoError(t, station.PresentSecure(b.sim, 0))
	c, err := station.Next(context.Background())
	require.NoError(t, err)
	from := b.keys[1]
	out, err := credential.Personalise(context.Background(), c.APDU, b.card, b.keys[2], &from, nil)
	require.NoError(t, err)
	require.Equal(t, credential.Rekeyed, out)
}

func (h *harness) load(version uint64, requireSecure bool, entries []protocol.Entry) {
	h.t.Helper()
	issued := h.time.wall.Add(-time.Minute)
	msgs, err := h.signer.SignSnapshot(protocol.Whitelist{Door: "door-1", Version: version, IssuedMs: issued.UnixMilli(), ExpiresMs: issued.Add(30 * 24 * time.Hour).UnixMilli(), Center: "c-1", RequireSecure: requireSecure}, entries)
	require.NoError(h.t, err)
	for _, m := range msgs {
		code, body := h.post("/v1/whitelist", m)
		require.Equal(h.t, http.StatusOK, code, "%s", body)
	}
}

// present puts a simulated card in front of the door's reader and waits
// for the outbox to hold n events.
func (h *harness) presentSecure(sim *desfiresim.Card, pullAfter int) {
	h.t.Helper()
	require.NoError(h.t, h.fake.PresentSecure(sim, pullAfter))
}

func (h *harness) waitOutbox(n int, what string) []protocol.Event {
	h.t.Helper()
	h.eventually(func() bool { return len(h.outbox()) >= n }, what)
	return h.outbox()
}

func (h *harness) metric(line string) bool {
	var m strings.Builder
	require.NoError(h.t, h.agent.Metrics().WriteText(&m))
	return strings.Contains(m.String(), line)
}

func TestSecureBadgesPersonaliseTapGrant(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	staff := protocol.Grant{Kind: protocol.GrantStaff}
	badges := []*secureBadge{
		personalise(t, protocol.CardNTAG424DNA, []byte{0x08, 0x24, 0x24, 0x01}, "m-ntag4", staff),
		personalise(t, protocol.CardNTAG424DNA, []byte{0x04, 0x24, 0x24, 0x07, 0x80, 0x1D, 0x80}, "m-ntag7", staff),
		personalise(t, protocol.CardDESFireEV2, []byte{0x08, 0xDE, 0x5F, 0x04}, "m-ev2-4", staff),
		personalise(t, protocol.CardDESFireEV2, []byte{0x04, 0xDE, 0x5F, 0x07, 0x80, 0x1D, 0x80}, "m-ev2-7", staff),
	}
	var entries []protocol.Entry
	for _, b := range badges {
		entries = append(entries, b.entry)
	}
	h.load(1, false, entries)
	n := 0
	for _, b := range badges {
		h.presentSecure(b.sim, 0)
		n++
		evs := h.waitOutbox(n, "the tap of "+b.entry.Member)
		ev := evs[n-1]
		assert.Equal(t, protocol.GrantedStaff, ev.Reason, b.entry.Member)
		assert.Equal(t, b.entry.UID, ev.UID)
		if b.card == protocol.CardNTAG424DNA {
			assert.Equal(t, b.sim.SDMReadCounter(), ev.ReadCounter, "the authenticated counter is recorded")
			assert.NotZero(t, ev.ReadCounter)
		} else {
			assert.Zero(t, ev.ReadCounter)
		}
		h.eventually(func() bool { return h.lock.unlockedWrites() == n }, "relay unlocked for "+b.entry.Member)
	}
	// The same NTAG presented again later counts one more.
	h.later(3 * time.Second)
	first := h.outbox()[0].ReadCounter
	h.presentSecure(badges[0].sim, 0)
	evs := h.waitOutbox(n+1, "the second tap")
	assert.Equal(t, protocol.GrantedStaff, evs[n].Reason)
	assert.Equal(t, first+1, evs[n].ReadCounter)
	assert.True(t, h.metric(`swc_edge_secure_auth_total{result="ok"} 5`))
}

func TestCloneDeniedWithAlarmRelayNeverUnlocked(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	staff := protocol.Grant{Kind: protocol.GrantStaff}
	ntag := personalise(t, protocol.CardNTAG424DNA, []byte{0x04, 0xC1, 0x0E, 0x07, 0x80, 0x1D, 0x80}, "m-ntag", staff)
	ev2 := personalise(t, protocol.CardDESFireEV2, []byte{0x08, 0xC1, 0x0E, 0x04}, "m-ev2", staff)
	h.load(1, false, []protocol.Entry{ntag.entry, ev2.entry})

	n := 0
	for _, b := range []*secureBadge{ntag, ev2} {
		for _, garbage := range []bool{false, true} {
			clone, err := desfiresim.NewMagicClone(b.uid, desfiresim.Options{CloneGarbage: garbage})
			require.NoError(t, err)
			h.later(3 * time.Second)
			h.presentSecure(clone, 0)
			n += 2
			evs := h.waitOutbox(n, "the clone's tap and alarm")
			assert.Equal(t, "tap:denied_auth_failed suspected_clone", kinds(evs[n-2:]))
			assert.Equal(t, b.entry.UID, evs[n-1].UID)
			assert.Equal(t, b.entry.Member, evs[n-1].Member)
		}
	}
	// A UID copied onto a card without ISO 14443-4 (a magic MIFARE Classic).
	h.later(3 * time.Second)
	require.NoError(t, h.fake.PresentUID(ntag.uid))
	n += 2
	assert.Equal(t, "tap:denied_auth_failed suspected_clone", kinds(h.waitOutbox(n, "the classic clone")[n-2:]))
	assert.True(t, h.metric(`swc_edge_secure_auth_total{result="no_apdu"} 1`))

	// A replay: the real card's counter rolled back (a recorded exchange).
	h.later(3 * time.Second)
	h.presentSecure(ntag.sim, 0)
	n++
	require.Equal(t, protocol.GrantedStaff, h.waitOutbox(n, "the real card")[n-1].Reason)
	h.eventually(func() bool { return h.lock.unlockedWrites() == 1 }, "the real card opens")
	h.eventually(h.lock.locked, "locked again")
	replayed := personalise(t, protocol.CardNTAG424DNA, ntag.uid, "m-ntag") // same keys, counter from 0
	h.later(3 * time.Second)
	h.presentSecure(replayed.sim, 0)
	n += 2
	assert.Equal(t, "tap:denied_auth_failed suspected_clone", kinds(h.waitOutbox(n, "the replay")[n-2:]))

	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, 1, h.lock.unlockedWrites(), "only the real card ever unlocked the relay")
	assert.True(t, h.lock.locked())
}

func TestSecureBadgePulledMidAuthenticationIsNoDecision(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	b := personalise(t, protocol.CardNTAG424DNA, []byte{0x04, 0x9F, 0x11, 0x07, 0x80, 0x1D, 0x80}, "m-1", protocol.Grant{Kind: protocol.GrantStaff})
	h.load(1, false, []protocol.Entry{b.entry})
	for after := 1; after <= 4; after++ {
		h.presentSecure(b.sim, after)
		h.eventually(func() bool {
			return h.metric(`swc_edge_secure_auth_total{result="card_error"} ` + string(rune('0'+after)))
		}, "the card error")
	}
	assert.Empty(t, h.outbox(), "no decision, nothing recorded")
	assert.Zero(t, h.lock.unlockedWrites(), "the relay never unlocked")
	assert.Equal(t, "ok", h.report().Reader.State, "a pulled card is not a reader fault")
	// Presented again at once: not a repeat (the pulled ones were not counted).
	h.presentSecure(b.sim, 0)
	assert.Equal(t, protocol.GrantedStaff, h.waitOutbox(1, "the tap")[0].Reason)
}

func TestRequireSecureRefusesUIDOnly(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start()
	staff := protocol.Grant{Kind: protocol.GrantStaff}
	b := personalise(t, protocol.CardDESFireEV2, []byte{0x08, 0x5E, 0xC0, 0x01}, "m-secure", staff)
	plain := protocol.Entry{UID: "04A1B2C3", Member: "m-plain", Grants: []protocol.Grant{staff}}
	h.load(1, true, []protocol.Entry{b.entry, plain})
	assert.Equal(t, protocol.DeniedNotSecure, h.tap(plain.UID).Reason)
	h.presentSecure(b.sim, 0)
	assert.Equal(t, protocol.GrantedStaff, h.waitOutbox(2, "the secure tap")[1].Reason)
	h.eventually(func() bool { return h.lock.unlockedWrites() == 1 }, "only the secure badge opens")
}

// TestKeyRotationAcrossAnOfflineDoor: the door got a whitelist with both
// versions' door keys (version 1 until its cut-off), then hears nothing
// more; the badge is re-keyed to version 2 at a station; the door still
// grants it. After the cut-off, a badge left at version 1 is refused.
func TestKeyRotationAcrossAnOfflineDoor(t *testing.T) {
	staff := protocol.Grant{Kind: protocol.GrantStaff}
	for _, card := range []protocol.CardType{protocol.CardNTAG424DNA, protocol.CardDESFireEV2} {
		t.Run(string(card), func(t *testing.T) {
			rekeyed := personalise(t, card, []byte{0x04, 0x20, 0x7A, 0x07, 0x80, 0x1D, 0x80}, "m-rekeyed", staff)
			left := personalise(t, card, []byte{0x08, 0x20, 0x7A, 0x04}, "m-left", staff)
			cutoff := time.Now().Add(time.Hour)
			var entries []protocol.Entry
			for _, b := range []*secureBadge{rekeyed, left} {
				e := b.entry
				e.Keys = []protocol.DoorKey{
					{Version: 1, Key: b.keys[1].Keys[desfire.KeyDoor], NotAfterMs: cutoff.UnixMilli()},
					{Version: 2, Key: b.keys[2].Keys[desfire.KeyDoor]},
				}
				entries = append(entries, e)
			}

			// Before the cut-off: both open; the door then goes offline
			// (no whitelist, no sync: it has no MQTT component at all).
			h := newHarness(t, harnessOpts{})
			h.start()
			h.load(1, false, entries)
			h.presentSecure(left.sim, 0)
			assert.Equal(t, protocol.GrantedStaff, h.waitOutbox(1, "version 1 before the cut-off")[0].Reason)
			rekeyed.rekey(t)
			h.presentSecure(rekeyed.sim, 0)
			assert.Equal(t, protocol.GrantedStaff, h.waitOutbox(2, "version 2")[1].Reason)

			// After the cut-off (the same whitelist, the door's clock later).
			late := newHarness(t, harnessOpts{})
			late.time.wall = cutoff.Add(time.Minute)
			late.start()
			late.load(1, false, entries)
			late.presentSecure(rekeyed.sim, 0)
			assert.Equal(t, protocol.GrantedStaff, late.waitOutbox(1, "version 2 after the cut-off")[0].Reason)
			late.presentSecure(left.sim, 0)
			assert.Equal(t, "tap:granted_staff tap:denied_auth_failed suspected_clone", kinds(late.waitOutbox(3, "version 1 after the cut-off")))
			assert.Equal(t, 1, late.lock.unlockedWrites())
		})
	}
}
