package desfiresim

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// link lets desfire.Card talk to a simulated card, and can corrupt the next command.
type link struct {
	card    *Card
	corrupt bool
	sent    int
}

func (l *link) Transceive(_ context.Context, apdu []byte) ([]byte, error) {
	l.sent++
	if l.corrupt {
		l.corrupt = false
		apdu = append([]byte(nil), apdu...)
		apdu[len(apdu)-3] ^= 0x01 // inside the MAC
	}
	return l.card.Transceive(apdu), nil
}

var (
	masterV1 = [16]byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F}
	masterV2 = [16]byte{0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F}
	swcAID   = [3]byte{0x53, 0x57, 0x43}
	zero     = make([]byte, 16)
)

func cardKey(t testing.TB, master [16]byte, uid []byte, aid [3]byte, keyNo byte) []byte {
	t.Helper()
	k, err := desfire.CardKey(master[:], uid, aid, keyNo)
	require.NoError(t, err)
	return k[:]
}

var uids = map[string][]byte{
	"uid4": {0x08, 0x11, 0x22, 0x33},
	"uid7": {0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80},
}

// personaliseNTAG424 turns a factory NTAG 424 DNA into a network badge of key
// version v: SDM read counter on the NDEF file readable with key 1, keys 1-4
// and then key 0 diversified from master.
func personaliseNTAG424(t *testing.T, ctx context.Context, h *desfire.Card, uid []byte, master [16]byte, v byte, oldMaster *[16]byte) {
	t.Helper()
	require.NoError(t, h.SelectNTAG424Application(ctx))
	key0 := zero
	if oldMaster != nil {
		key0 = cardKey(t, *oldMaster, uid, NTAG424App, 0)
	}
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, key0))
	if oldMaster == nil {
		require.NoError(t, h.ChangeFileSettings(ctx, 0x02, desfire.NTAG424SDMCounterSettings(1)))
		fs, err := h.GetFileSettings(ctx, 0x02)
		require.NoError(t, err)
		assert.Equal(t, append([]byte{0x00, 0x40, 0xE0, 0xEE, 0x00, 0x01, 0x00}, desfire.NTAG424SDMCounterSettings(1)[3:]...), fs)
	}
	for k := byte(1); k <= 4; k++ {
		old := zero
		if oldMaster != nil {
			old = cardKey(t, *oldMaster, uid, NTAG424App, k)
		}
		require.NoError(t, h.ChangeKey(ctx, k, old, cardKey(t, master, uid, NTAG424App, k), v))
	}
	require.NoError(t, h.ChangeKey(ctx, 0, nil, cardKey(t, master, uid, NTAG424App, 0), v))
	assert.Nil(t, h.Session())
}

// doorTapNTAG424 is what a door does: select, read the NDEF file's head
// unauthenticated (which increments the SDM read counter), authenticate with
// the badge's door key and read the counter in full mode.
func doorTapNTAG424(ctx context.Context, h *desfire.Card, doorKey []byte) (uint32, error) {
	if err := h.SelectNTAG424Application(ctx); err != nil {
		return 0, err
	}
	if _, err := h.ReadData(ctx, 0x02, 0, 16, desfire.Plain); err != nil {
		return 0, err
	}
	if err := h.AuthenticateEV2First(ctx, 1, doorKey); err != nil {
		return 0, err
	}
	return h.GetFileCounters(ctx, 0x02)
}

func TestNTAG424EndToEnd(t *testing.T) {
	ctx := context.Background()
	for name, uid := range uids {
		t.Run(name, func(t *testing.T) {
			sim, err := NewNTAG424(uid, Options{})
			require.NoError(t, err)
			l := &link{card: sim}
			h := desfire.New(l, rand.Reader)

			// Factory state: key 0 is zero, version 0; GetVersion shows the UID.
			require.NoError(t, h.SelectNTAG424Application(ctx))
			v, err := h.GetVersion(ctx)
			require.NoError(t, err)
			assert.Equal(t, byte(0x04), v.Hardware[0])
			assert.Equal(t, uid, v.UID()[:len(uid)])
			require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
			got, err := h.GetCardUID(ctx)
			require.NoError(t, err)
			assert.Equal(t, uid, got)
			ver, err := h.GetKeyVersion(ctx, 1)
			require.NoError(t, err)
			assert.Equal(t, byte(0), ver)

			personaliseNTAG424(t, ctx, h, uid, masterV1, 1, nil)
			for k := byte(0); k <= 4; k++ {
				key, ok := sim.Key(NTAG424App, k)
				require.True(t, ok)
				assert.Equal(t, cardKey(t, masterV1, uid, NTAG424App, k), key.Value[:], "key %d", k)
				assert.Equal(t, byte(1), key.Version)
			}

			// The door: counter read, incremented on each tap.
			doorKey := cardKey(t, masterV1, uid, NTAG424App, 1)
			c1, err := doorTapNTAG424(ctx, h, doorKey)
			require.NoError(t, err)
			c2, err := doorTapNTAG424(ctx, h, doorKey)
			require.NoError(t, err)
			assert.Equal(t, c1+1, c2)
			assert.Equal(t, c2, sim.SDMReadCounter())

			// The factory key and another badge's door key no longer work.
			require.NoError(t, h.SelectNTAG424Application(ctx))
			err = h.AuthenticateEV2First(ctx, 0, zero)
			assert.ErrorIs(t, err, desfire.ErrAuthenticationError)
			_, err = doorTapNTAG424(ctx, h, cardKey(t, masterV1, []byte{1, 2, 3, 4}, NTAG424App, 1))
			assert.ErrorIs(t, err, desfire.ErrAuthenticationError)
			// The door key cannot change keys.
			require.NoError(t, h.AuthenticateEV2First(ctx, 1, doorKey))
			err = h.ChangeKey(ctx, 2, cardKey(t, masterV1, uid, NTAG424App, 2), zero, 9)
			assert.ErrorIs(t, err, desfire.ErrPermissionDenied)

			// Rotation to master key version 2, then the door with the new key.
			personaliseNTAG424(t, ctx, h, uid, masterV2, 2, &masterV1)
			_, err = doorTapNTAG424(ctx, h, doorKey)
			assert.ErrorIs(t, err, desfire.ErrAuthenticationError, "version 1 key refused")
			c3, err := doorTapNTAG424(ctx, h, cardKey(t, masterV2, uid, NTAG424App, 1))
			require.NoError(t, err)
			// Each tap's unauthenticated read counted, the two refused ones too.
			assert.Equal(t, c2+3, c3)
			ver, err = h.GetKeyVersion(ctx, 1)
			require.NoError(t, err)
			assert.Equal(t, byte(2), ver)
		})
	}
}

func TestCardChecks(t *testing.T) {
	ctx := context.Background()
	uid := uids["uid7"]
	sim, err := NewNTAG424(uid, Options{SDMEnabled: true, SDMCtrRetKey: 0})
	require.NoError(t, err)
	l := &link{card: sim}
	h := desfire.New(l, rand.Reader)
	require.NoError(t, h.SelectNTAG424Application(ctx))

	// No session: commands needing one are refused by the host or the card.
	_, err = h.GetCardUID(ctx)
	assert.ErrorIs(t, err, desfire.ErrNotAuthenticated)
	resp := sim.Transceive([]byte{0x90, desfire.CmdGetCardUID, 0, 0, 0})
	assert.Equal(t, []byte{0x91, 0xAE}, resp)

	// A corrupted MAC: 911E and the session is gone on both sides.
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
	l.corrupt = true
	_, err = h.GetCardUID(ctx)
	assert.ErrorIs(t, err, desfire.ErrIntegrity)
	_, _, open := sim.Session()
	assert.False(t, open)
	assert.Nil(t, h.Session())

	// A replayed command (old counter) fails the card's MAC check.
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
	var captured []byte
	rec := &recorder{inner: l, last: &captured}
	h2 := desfire.New(rec, rand.Reader)
	require.NoError(t, h2.SelectNTAG424Application(ctx))
	require.NoError(t, h2.AuthenticateEV2First(ctx, 0, zero))
	_, err = h2.GetFileCounters(ctx, 0x02)
	require.NoError(t, err)
	_, ctr, _ := sim.Session()
	assert.Equal(t, uint16(1), ctr)
	assert.Equal(t, []byte{0x91, 0x1E}, sim.Transceive(captured), "the same command again carries a stale counter")

	// Boundary, missing file, unknown command, wrong class.
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
	_, err = h.ReadData(ctx, 0x02, 250, 16, desfire.Plain)
	assert.ErrorIs(t, err, desfire.ErrBoundary)
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
	_, err = h.GetFileSettings(ctx, 0x09)
	assert.ErrorIs(t, err, desfire.ErrFileNotFound)
	assert.Equal(t, []byte{0x91, 0x1C}, sim.Transceive([]byte{0x90, 0x99, 0, 0, 0}))
	assert.Equal(t, []byte{0x6E, 0x00}, sim.Transceive([]byte{0x80, 0x99, 0, 0, 0}))

	// A wrong old key in ChangeKey of another key: the CRC does not match.
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
	err = h.ChangeKey(ctx, 2, bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 16), 1)
	assert.ErrorIs(t, err, desfire.ErrIntegrity)
	k2, _ := sim.Key(NTAG424App, 2)
	assert.Equal(t, [16]byte{}, k2.Value, "key unchanged")

	// SDMReadCtr: only unauthenticated reads count, and a run of reads once.
	n0 := sim.SDMReadCounter()
	require.NoError(t, h.SelectNTAG424Application(ctx))
	for range 3 {
		_, err = h.ReadData(ctx, 0x02, 0, 4, desfire.Plain)
		require.NoError(t, err)
	}
	assert.Equal(t, n0+1, sim.SDMReadCounter())
	require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
	_, err = h.ReadData(ctx, 0x02, 0, 4, desfire.Plain)
	require.NoError(t, err)
	n, err := h.GetFileCounters(ctx, 0x02)
	require.NoError(t, err)
	assert.Equal(t, n0+1, n, "authenticated reads do not count")

	// The proprietary file 03 is read in full mode with key 2.
	require.NoError(t, h.AuthenticateEV2First(ctx, 2, zero))
	b, err := h.ReadData(ctx, 0x03, 0, 32, desfire.Full)
	require.NoError(t, err)
	assert.Len(t, b, 32)
	require.NoError(t, h.AuthenticateEV2NonFirst(ctx, 3, zero))
	require.NoError(t, h.WriteData(ctx, 0x03, 4, []byte("swc"), desfire.Full))
	data, _ := sim.FileData(NTAG424App, 0x03)
	assert.Equal(t, []byte("swc"), data[4:7])
	keyNo, _, _ := sim.Session()
	assert.Equal(t, byte(3), keyNo)
}

type recorder struct {
	inner desfire.Transceiver
	last  *[]byte
}

func (r *recorder) Transceive(ctx context.Context, apdu []byte) ([]byte, error) {
	*r.last = append([]byte(nil), apdu...)
	return r.inner.Transceive(ctx, apdu)
}

func TestDESFireEV2EndToEnd(t *testing.T) {
	ctx := context.Background()
	for name, uid := range uids {
		t.Run(name, func(t *testing.T) {
			sim, err := NewDESFireEV2(uid, Options{})
			require.NoError(t, err)
			h := desfire.New(&link{card: sim}, rand.Reader)

			// Personalisation: create the network's application (the factory
			// PICC lets anyone), set its keys from the master key.
			require.NoError(t, h.SelectApplication(ctx, PICC))
			ks, err := h.GetKeySettings(ctx)
			require.NoError(t, err)
			assert.Equal(t, desfire.KeySettings{Settings: 0x0F, MaxKeys: 0x81}, ks)
			require.NoError(t, h.CreateApplication(ctx, swcAID, 0x0B, 2))
			assert.ErrorIs(t, h.CreateApplication(ctx, swcAID, 0x0B, 2), desfire.ErrDuplicate)
			require.NoError(t, h.SelectApplication(ctx, swcAID))
			require.NoError(t, h.AuthenticateEV2First(ctx, 0, zero))
			require.NoError(t, h.CreateStdDataFile(ctx, 0x01, 0x03, [2]byte{0x00, 0x10}, 32))
			require.NoError(t, h.ChangeKey(ctx, 1, zero, cardKey(t, masterV1, uid, swcAID, 1), 1))
			require.NoError(t, h.ChangeKey(ctx, 0, nil, cardKey(t, masterV1, uid, swcAID, 0), 1))
			require.NoError(t, h.AuthenticateEV2First(ctx, 0, cardKey(t, masterV1, uid, swcAID, 0)))
			require.NoError(t, h.ChangeKeySettings(ctx, 0x09)) // no more free create/delete
			ks, err = h.GetKeySettings(ctx)
			require.NoError(t, err)
			assert.Equal(t, byte(0x09), ks.Settings)

			// The door: its key authenticates and reads the file in full mode.
			doorKey := cardKey(t, masterV1, uid, swcAID, 1)
			require.NoError(t, h.SelectApplication(ctx, swcAID))
			require.NoError(t, h.AuthenticateEV2First(ctx, 1, doorKey))
			b, err := h.ReadData(ctx, 0x01, 0, 8, desfire.Full)
			require.NoError(t, err)
			assert.Len(t, b, 8)
			gotUID, err := h.GetCardUID(ctx)
			require.NoError(t, err)
			assert.Equal(t, uid, gotUID)
			assert.ErrorIs(t, h.ChangeKey(ctx, 0, cardKey(t, masterV1, uid, swcAID, 0), zero, 0), desfire.ErrPermissionDenied)

			// Re-key to version 2, the old door key is refused, the new one works.
			require.NoError(t, h.SelectApplication(ctx, swcAID))
			require.NoError(t, h.AuthenticateEV2First(ctx, 0, cardKey(t, masterV1, uid, swcAID, 0)))
			require.NoError(t, h.ChangeKey(ctx, 1, doorKey, cardKey(t, masterV2, uid, swcAID, 1), 2))
			require.NoError(t, h.ChangeKey(ctx, 0, nil, cardKey(t, masterV2, uid, swcAID, 0), 2))
			require.NoError(t, h.SelectApplication(ctx, swcAID))
			assert.ErrorIs(t, h.AuthenticateEV2First(ctx, 1, doorKey), desfire.ErrAuthenticationError)
			require.NoError(t, h.SelectApplication(ctx, swcAID))
			require.NoError(t, h.AuthenticateEV2First(ctx, 1, cardKey(t, masterV2, uid, swcAID, 1)))
			k, ok := sim.Key(swcAID, 1)
			require.True(t, ok)
			assert.Equal(t, byte(2), k.Version)
			v, err := h.GetVersion(ctx) // MAC-protected and chained inside a session
			require.NoError(t, err)
			assert.Equal(t, byte(0x01), v.Hardware[1])

			// A card that does not have the application.
			other, err := NewDESFireEV2(uid, Options{})
			require.NoError(t, err)
			h3 := desfire.New(&link{card: other}, rand.Reader)
			err = h3.SelectApplication(ctx, swcAID)
			assert.ErrorIs(t, err, desfire.ErrApplicationNotFound)
			assert.True(t, desfire.IsAuthFailure(err))
		})
	}
}

func TestPersonalisedConstructors(t *testing.T) {
	uid := uids["uid4"]
	keys := make([]Key, 5)
	for i := range keys {
		keys[i] = Key{Value: [16]byte(cardKey(t, masterV1, uid, NTAG424App, byte(i))), Version: 1}
	}
	sim, err := NewNTAG424(uid, Options{Keys: keys, SDMEnabled: true, SDMCtrRetKey: 1})
	require.NoError(t, err)
	ctx := context.Background()
	h := desfire.New(&link{card: sim}, rand.Reader)
	n, err := doorTapNTAG424(ctx, h, keys[1].Value[:])
	require.NoError(t, err)
	assert.Equal(t, uint32(1), n)

	dk := Key{Value: [16]byte(cardKey(t, masterV1, uid, swcAID, 1)), Version: 1}
	ev2, err := NewDESFireEV2(uid, Options{Apps: []App{{AID: swcAID, KeySettings: 0x09, Keys: []Key{{}, dk}}}})
	require.NoError(t, err)
	h = desfire.New(&link{card: ev2}, rand.Reader)
	require.NoError(t, h.SelectApplication(ctx, swcAID))
	require.NoError(t, h.AuthenticateEV2First(ctx, 1, dk.Value[:]))

	_, err = NewNTAG424([]byte{1, 2, 3}, Options{})
	assert.Error(t, err)
	_, err = NewNTAG424(uid, Options{Keys: keys[:2]})
	assert.Error(t, err)
}

func TestMagicClone(t *testing.T) {
	ctx := context.Background()
	uid := uids["uid7"]
	for _, garbage := range []bool{false, true} {
		clone, err := NewMagicClone(uid, Options{CloneGarbage: garbage})
		require.NoError(t, err)
		assert.Equal(t, uid, clone.UID())
		h := desfire.New(&link{card: clone}, rand.Reader)
		_, err = doorTapNTAG424(ctx, h, cardKey(t, masterV1, uid, NTAG424App, 1))
		require.Error(t, err)
		assert.True(t, desfire.IsAuthFailure(err), "garbage=%v: %v", garbage, err)
		if garbage {
			assert.ErrorIs(t, err, desfire.ErrCardCryptogram)
		} else {
			assert.ErrorIs(t, err, desfire.ErrFileNotFound)
		}
		err = h.SelectApplication(ctx, swcAID)
		if !garbage {
			assert.ErrorIs(t, err, desfire.ErrApplicationNotFound)
			continue
		}
		require.NoError(t, err)
		err = h.AuthenticateEV2First(ctx, 1, cardKey(t, masterV1, uid, swcAID, 1))
		assert.ErrorIs(t, err, desfire.ErrCardCryptogram)
	}
}

// pulled is a link whose card leaves the field after `after` APDUs.
type pulled struct {
	card  *Card
	after int
}

func (p *pulled) Transceive(_ context.Context, apdu []byte) ([]byte, error) {
	if p.after == 0 {
		return nil, errors.New("card left the field")
	}
	p.after--
	return p.card.Transceive(apdu), nil
}

// rollForward is the recovery the package documentation describes: key 0
// still factory, keys already changed recognised by ErrIntegrity.
func rollForward(t *testing.T, ctx context.Context, h *desfire.Card, uid []byte, master [16]byte, v byte) {
	t.Helper()
	auth := func() {
		require.NoError(t, h.SelectNTAG424Application(ctx))
		require.NoError(t, h.AuthenticateEV2First(ctx, desfire.KeyAppMaster, zero))
	}
	auth()
	fs, err := h.GetFileSettings(ctx, desfire.NTAG424NDEFFile)
	require.NoError(t, err)
	if fs[1]&0x40 == 0 { // SDM not enabled yet
		require.NoError(t, h.ChangeFileSettings(ctx, desfire.NTAG424NDEFFile, desfire.NTAG424SDMCounterSettings(desfire.KeyDoor)))
	}
	for k := byte(1); k <= 4; k++ {
		newKey := cardKey(t, master, uid, NTAG424App, k)
		err := h.ChangeKey(ctx, k, zero, newKey, v)
		if errors.Is(err, desfire.ErrIntegrity) { // already changed: the old value is ours
			auth()
			err = h.ChangeKey(ctx, k, newKey, newKey, v)
		}
		require.NoError(t, err, "key %d", k)
	}
	require.NoError(t, h.ChangeKey(ctx, desfire.KeyAppMaster, nil, cardKey(t, master, uid, NTAG424App, 0), v))
}

func TestPersonalisationPulledAwayRollsForward(t *testing.T) {
	ctx := context.Background()
	uid := uids["uid7"]
	for after := 1; after <= 12; after++ {
		sim, err := NewNTAG424(uid, Options{})
		require.NoError(t, err)
		p := &pulled{card: sim, after: after}
		h := desfire.New(p, rand.Reader)
		// The interrupted attempt (its errors are expected).
		func() {
			if h.SelectNTAG424Application(ctx) != nil || h.AuthenticateEV2First(ctx, 0, zero) != nil ||
				h.ChangeFileSettings(ctx, 0x02, desfire.NTAG424SDMCounterSettings(1)) != nil {
				return
			}
			for k := byte(1); k <= 4; k++ {
				if h.ChangeKey(ctx, k, zero, cardKey(t, masterV1, uid, NTAG424App, k), 1) != nil {
					return
				}
			}
		}()
		sim.Reset()
		p.after = 1000
		rollForward(t, ctx, h, uid, masterV1, 1)
		for k := byte(0); k <= 4; k++ {
			key, _ := sim.Key(NTAG424App, k)
			require.Equal(t, cardKey(t, masterV1, uid, NTAG424App, k), key.Value[:], "pulled after %d APDUs: key %d", after, k)
		}
		n, err := doorTapNTAG424(ctx, h, cardKey(t, masterV1, uid, NTAG424App, 1))
		require.NoError(t, err)
		assert.Equal(t, uint32(1), n)
	}
}
