package credential

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// fakeCentral derives keys as the central does and records registrations.
type fakeCentral struct {
	t        *testing.T
	version  uint8
	masters  map[uint8][]byte
	badges   map[protocol.UID]uint8 // registered secure badges and their version
	members  map[protocol.UID]string
	failKeys error
}

func (f *fakeCentral) Keys(_ context.Context, uid protocol.UID, card protocol.CardType) (protocol.Personalisation, error) {
	if f.failKeys != nil {
		return protocol.Personalisation{}, f.failKeys
	}
	p := protocol.Personalisation{UID: uid, CardType: card, KeyVersion: f.version, Keys: appKeys(f.t, f.masters[f.version], uid.Bytes(), card, f.version).Keys}
	if v, ok := f.badges[uid]; ok && v != f.version {
		p.Current = &protocol.VersionedKeys{KeyVersion: v, Keys: appKeys(f.t, f.masters[v], uid.Bytes(), card, v).Keys}
	}
	return p, nil
}

func (f *fakeCentral) Register(_ context.Context, uid protocol.UID, member string, _ protocol.CardType, v uint8) error {
	f.badges[uid] = v
	if _, ok := f.members[uid]; !ok {
		f.members[uid] = member
	}
	return nil
}

func fieldCard(t *testing.T, sim *desfiresim.Card) reader.Card {
	t.Helper()
	r := readerfake.New()
	require.NoError(t, r.PresentSecure(sim, 0))
	c, err := r.Next(context.Background())
	require.NoError(t, err)
	return c
}

func TestEnrollDetectsPersonalisesRegisters(t *testing.T) {
	ctx := context.Background()
	for _, card := range cards {
		t.Run(string(card), func(t *testing.T) {
			central := &fakeCentral{t: t, version: 1, masters: map[uint8][]byte{1: masterV1, 2: masterV2},
				badges: map[protocol.UID]uint8{}, members: map[protocol.UID]string{}}
			uid := uids["uid7"]
			sim := factory(t, card, uid)
			got, err := Enroll(ctx, fieldCard(t, sim), "", "m-1", central, nil)
			require.NoError(t, err)
			assert.Equal(t, Enrolled{UID: protocol.UIDFromBytes(uid), Card: card, KeyVersion: 1, Outcome: Personalised}, got)
			assert.Equal(t, uint8(1), central.badges[got.UID])
			assert.Equal(t, "m-1", central.members[got.UID])
			e := entryFor(uid, card, doorKey(appKeys(t, masterV1, uid, card, 1), time.Time{}))
			_, err = Authenticate(ctx, fieldCard(t, sim).APDU, e, now, nil)
			require.NoError(t, err)

			// Rotation: the station re-keys it with the central's two versions.
			central.version = 2
			got, err = Enroll(ctx, fieldCard(t, sim), card, "", central, nil)
			require.NoError(t, err)
			assert.Equal(t, Rekeyed, got.Outcome)
			assert.Equal(t, uint8(2), central.badges[got.UID])
			e = entryFor(uid, card, doorKey(appKeys(t, masterV2, uid, card, 2), time.Time{}))
			_, err = Authenticate(ctx, fieldCard(t, sim).APDU, e, now, nil)
			require.NoError(t, err)
		})
	}
}

func TestEnrollRefusals(t *testing.T) {
	ctx := context.Background()
	central := &fakeCentral{t: t, version: 1, masters: map[uint8][]byte{1: masterV1}, badges: map[protocol.UID]uint8{}, members: map[protocol.UID]string{}}
	_, err := Enroll(ctx, reader.Card{UID: []byte{1, 2, 3, 4}}, "", "m-1", central, nil)
	assert.ErrorIs(t, err, ErrNoAPDU)

	central.failKeys = errors.New("HTTP 404")
	_, err = Enroll(ctx, fieldCard(t, factory(t, protocol.CardDESFireEV2, uids["uid4"])), "", "m-1", central, nil)
	assert.ErrorContains(t, err, "HTTP 404")
	assert.Empty(t, central.badges)
	central.failKeys = nil

	// A card of another network: refused, untouched, not registered.
	sim := factory(t, protocol.CardNTAG424DNA, uids["uid4"])
	_, err = Personalise(ctx, fieldCard(t, sim).APDU, protocol.CardNTAG424DNA, appKeys(t, otherNet, uids["uid4"], protocol.CardNTAG424DNA, 1), nil, nil)
	require.NoError(t, err)
	_, err = Enroll(ctx, fieldCard(t, sim), "", "m-1", central, nil)
	assert.ErrorIs(t, err, ErrForeignCard)
	assert.Empty(t, central.badges)

	// A magic clone has no NDEF application and is taken for a DESFire; it
	// has no DESFire application either, and cannot be personalised.
	clone, err := desfiresim.NewMagicClone(uids["uid7"], desfiresim.Options{})
	require.NoError(t, err)
	_, err = Enroll(ctx, fieldCard(t, clone), "", "m-1", central, nil)
	assert.Error(t, err)
	assert.Empty(t, central.badges)
}
