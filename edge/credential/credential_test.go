package credential

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/reader"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var (
	masterV1 = []byte("network master 1")
	masterV2 = []byte("network master 2")
	otherNet = []byte("another network!")
	now      = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	uids     = map[string][]byte{"uid4": {0x08, 0x11, 0x22, 0x33}, "uid7": {0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80}}
	cards    = []protocol.CardType{protocol.CardNTAG424DNA, protocol.CardDESFireEV2}
)

// appKeys diversifies a card's keys as the central does.
func appKeys(t testing.TB, master, uid []byte, card protocol.CardType, v uint8) AppKeys {
	t.Helper()
	aid, err := DiversificationAID(card)
	require.NoError(t, err)
	k := AppKeys{Version: v}
	for n := range KeyCount(card) {
		key, err := desfire.CardKey(master, uid, aid, byte(n))
		require.NoError(t, err)
		k.Keys = append(k.Keys, protocol.CardKey(key))
	}
	return k
}

func entryFor(uid []byte, card protocol.CardType, keys ...protocol.DoorKey) *protocol.Entry {
	return &protocol.Entry{UID: protocol.UIDFromBytes(uid), Member: "m-1", Card: card, Keys: keys}
}

func doorKey(k AppKeys, notAfter time.Time) protocol.DoorKey {
	d := protocol.DoorKey{Version: k.Version, Key: k.Keys[desfire.KeyDoor]}
	if !notAfter.IsZero() {
		d.NotAfterMs = notAfter.UnixMilli()
	}
	return d
}

func factory(t testing.TB, card protocol.CardType, uid []byte) *desfiresim.Card {
	t.Helper()
	var sim *desfiresim.Card
	var err error
	if card == protocol.CardNTAG424DNA {
		sim, err = desfiresim.NewNTAG424(uid, desfiresim.Options{})
	} else {
		sim, err = desfiresim.NewDESFireEV2(uid, desfiresim.Options{})
	}
	require.NoError(t, err)
	return sim
}

// present puts sim in front of a fake reader and returns its APDU channel.
func present(t testing.TB, r *readerfake.Reader, sim *desfiresim.Card, pullAfter int) reader.Transceiver {
	t.Helper()
	require.NoError(t, r.PresentSecure(sim, pullAfter))
	c, err := r.Next(context.Background())
	require.NoError(t, err)
	require.NotNil(t, c.APDU)
	return c.APDU
}

func TestPersonaliseThenAuthenticate(t *testing.T) {
	ctx := context.Background()
	for _, card := range cards {
		for name, uid := range uids {
			t.Run(fmt.Sprintf("%s/%s", card, name), func(t *testing.T) {
				r := readerfake.New()
				sim := factory(t, card, uid)
				keys := appKeys(t, masterV1, uid, card, 1)
				out, err := Personalise(ctx, present(t, r, sim, 0), card, keys, nil, nil)
				require.NoError(t, err)
				assert.Equal(t, Personalised, out)
				aid, _ := DiversificationAID(card)
				if card == protocol.CardDESFireEV2 {
					aid = DESFireAID
				}
				for n, want := range keys.Keys {
					got, ok := sim.Key(aid, byte(n))
					require.True(t, ok)
					assert.Equal(t, [16]byte(want), got.Value, "key %d", n)
					assert.Equal(t, byte(1), got.Version)
				}
				// Again: nothing to do.
				out, err = Personalise(ctx, present(t, r, sim, 0), card, keys, nil, nil)
				require.NoError(t, err)
				assert.Equal(t, AlreadyDone, out)

				e := entryFor(uid, card, doorKey(keys, time.Time{}))
				res, err := Authenticate(ctx, present(t, r, sim, 0), e, now, nil)
				require.NoError(t, err)
				assert.Equal(t, uint8(1), res.KeyVersion)
				assert.Equal(t, card == protocol.CardNTAG424DNA, res.HasCounter)
				res2, err := Authenticate(ctx, present(t, r, sim, 0), e, now, nil)
				require.NoError(t, err)
				if res.HasCounter {
					assert.Equal(t, res.ReadCounter+1, res2.ReadCounter, "each tap counts")
				}

				// Another badge's door key does not open it.
				wrong := entryFor(uid, card, doorKey(appKeys(t, otherNet, uid, card, 1), time.Time{}))
				_, err = Authenticate(ctx, present(t, r, sim, 0), wrong, now, nil)
				assert.ErrorIs(t, err, ErrAuthFailed)
			})
		}
	}
}

func TestCloneFailsAuthentication(t *testing.T) {
	ctx := context.Background()
	for _, card := range cards {
		for _, garbage := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/garbage=%v", card, garbage), func(t *testing.T) {
				uid := uids["uid7"]
				clone, err := desfiresim.NewMagicClone(uid, desfiresim.Options{CloneGarbage: garbage})
				require.NoError(t, err)
				e := entryFor(uid, card, doorKey(appKeys(t, masterV1, uid, card, 1), time.Time{}))
				_, err = Authenticate(ctx, present(t, readerfake.New(), clone, 0), e, now, nil)
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrAuthFailed)
				assert.NotErrorIs(t, err, reader.ErrCard)
			})
		}
	}
}

func TestCardPulledDuringAuthenticationIsNoDecision(t *testing.T) {
	ctx := context.Background()
	for _, card := range cards {
		uid := uids["uid4"]
		r := readerfake.New()
		sim := factory(t, card, uid)
		keys := appKeys(t, masterV1, uid, card, 1)
		_, err := Personalise(ctx, present(t, r, sim, 0), card, keys, nil, nil)
		require.NoError(t, err)
		e := entryFor(uid, card, doorKey(keys, time.Time{}))
		for after := 1; after < 8; after++ {
			_, err := Authenticate(ctx, present(t, r, sim, after), e, now, nil)
			if err == nil {
				break // the exchange took fewer APDUs
			}
			assert.ErrorIs(t, err, reader.ErrCard, "%s pulled after %d", card, after)
			assert.NotErrorIs(t, err, ErrAuthFailed, "%s pulled after %d", card, after)
		}
	}
}

func TestPersonalisationPulledAwayRollsForward(t *testing.T) {
	ctx := context.Background()
	for _, card := range cards {
		uid := uids["uid7"]
		keys := appKeys(t, masterV1, uid, card, 1)
		for after := 1; ; after++ {
			r := readerfake.New()
			sim := factory(t, card, uid)
			_, err := Personalise(ctx, present(t, r, sim, after), card, keys, nil, nil)
			if err == nil {
				require.Greater(t, after, 5, "%s: the whole personalisation", card)
				break
			}
			require.ErrorIs(t, err, reader.ErrCard, "%s pulled after %d", card, after)
			out, err := Personalise(ctx, present(t, r, sim, 0), card, keys, nil, nil)
			require.NoError(t, err, "%s pulled after %d", card, after)
			assert.Contains(t, []Outcome{Personalised, AlreadyDone}, out)
			_, err = Authenticate(ctx, present(t, r, sim, 0), entryFor(uid, card, doorKey(keys, time.Time{})), now, nil)
			require.NoError(t, err, "%s pulled after %d", card, after)
			require.Less(t, after, 40)
		}
	}
}

func TestForeignCardRefused(t *testing.T) {
	ctx := context.Background()
	for _, card := range cards {
		uid := uids["uid4"]
		r := readerfake.New()
		sim := factory(t, card, uid)
		theirs := appKeys(t, otherNet, uid, card, 3)
		_, err := Personalise(ctx, present(t, r, sim, 0), card, theirs, nil, nil)
		require.NoError(t, err)
		_, err = Personalise(ctx, present(t, r, sim, 0), card, appKeys(t, masterV1, uid, card, 1), nil, nil)
		assert.ErrorIs(t, err, ErrForeignCard, "%s", card)
		_, err = Authenticate(ctx, present(t, r, sim, 0), entryFor(uid, card, doorKey(theirs, time.Time{})), now, nil)
		assert.NoError(t, err, "%s: their keys still work: nothing was changed", card)
	}
}

func TestRotationAtAStation(t *testing.T) {
	ctx := context.Background()
	cutoff := now.Add(7 * 24 * time.Hour)
	for _, card := range cards {
		uid := uids["uid7"]
		r := readerfake.New()
		sim := factory(t, card, uid)
		v1, v2 := appKeys(t, masterV1, uid, card, 1), appKeys(t, masterV2, uid, card, 2)
		_, err := Personalise(ctx, present(t, r, sim, 0), card, v1, nil, nil)
		require.NoError(t, err)
		e := entryFor(uid, card, doorKey(v1, cutoff), doorKey(v2, time.Time{}))
		res, err := Authenticate(ctx, present(t, r, sim, 0), e, now, nil)
		require.NoError(t, err)
		assert.Equal(t, uint8(1), res.KeyVersion)

		// Pulled mid-way through the re-key, then finished.
		_, err = Personalise(ctx, present(t, r, sim, 6), card, v2, &v1, nil)
		require.Error(t, err)
		out, err := Personalise(ctx, present(t, r, sim, 0), card, v2, &v1, nil)
		require.NoError(t, err)
		assert.Contains(t, []Outcome{Rekeyed, AlreadyDone}, out)
		res, err = Authenticate(ctx, present(t, r, sim, 0), e, cutoff.Add(time.Hour), nil)
		require.NoError(t, err)
		assert.Equal(t, uint8(2), res.KeyVersion)

		// A card left at version 1 is refused after the cut-off.
		late := factory(t, card, uid)
		_, err = Personalise(ctx, present(t, r, late, 0), card, v1, nil, nil)
		require.NoError(t, err)
		_, err = Authenticate(ctx, present(t, r, late, 0), e, cutoff, nil)
		require.NoError(t, err, "until the cut-off")
		_, err = Authenticate(ctx, present(t, r, late, 0), e, cutoff.Add(time.Millisecond), nil)
		assert.ErrorIs(t, err, ErrAuthFailed)
	}
}

func TestAuthenticateRefusesUIDOnly(t *testing.T) {
	_, err := Authenticate(context.Background(), nil, entryFor([]byte{1, 2, 3, 4}, ""), now, nil)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, ErrAuthFailed))
}
