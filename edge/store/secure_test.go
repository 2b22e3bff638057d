package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// secureEntries makes entries(n) secure NTAG 424 DNA badges with a door key
// each (and, for odd ones, a second key version with a cut-off).
func secureEntries(n int) []protocol.Entry {
	es := entries(n)
	for i := range es {
		es[i].Card = protocol.CardNTAG424DNA
		es[i].Keys = []protocol.DoorKey{{Version: 1, Key: protocol.CardKey{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}}
		if i%2 == 1 {
			es[i].Card = protocol.CardDESFireEV2
			es[i].Keys[0].NotAfterMs = t0.Add(time.Hour).UnixMilli()
			es[i].Keys = append(es[i].Keys, protocol.DoorKey{Version: 2, Key: protocol.CardKey{0xFF, byte(i)}})
		}
	}
	return es
}

// TestDecodeEntryReuse: decoding a UID-only badge into the entry of a
// secure one (as decisions reuse theirs) clears its card type and keys.
// (TestEntryEncodingRoundTrip covers secure entries' encoding.)
func TestDecodeEntryReuse(t *testing.T) {
	sec := secureEntries(2)[1]
	var got protocol.Entry
	require.NoError(t, decodeEntry(sec.UID, encodeEntry(nil, &sec), &got, true))
	require.Len(t, got.Keys, 2)
	plain := entries(1)[0]
	require.NoError(t, decodeEntry(plain.UID, encodeEntry(nil, &plain), &got, true))
	assert.Equal(t, plain, got)
}

func TestRequireSecurePolicyReachesTheDoor(t *testing.T) {
	s := openTest(t, Options{})
	es := append(entries(2), secureEntries(3)[2])
	parts := snapshotParts(1, es, 2)
	for _, p := range parts {
		p.RequireSecure = true
	}
	applyAll(t, s, parts)
	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.True(t, wi.RequireSecure)
	assert.Equal(t, protocol.DeniedNotSecure, tap(t, s, uidN(1), t0, false).Reason)
	ev, err := s.Tap(ctx, TapRequest{UID: uidN(2), Time: t0, Trusted: true, Boot: "1-abc", Auth: decide.AuthOK}, decide.DefaultPolicy())
	require.NoError(t, err)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)

	// A delta carries the policy too: lifted, the UID-only badge enters.
	d := &protocol.Whitelist{V: protocol.Version, Door: testDoor, Kind: protocol.Delta, Version: 2, Base: 1, IssuedMs: t0.UnixMilli(), ExpiresMs: t0.Add(time.Hour).UnixMilli()}
	_, err = s.ApplyDelta(ctx, d)
	require.NoError(t, err)
	wi, err = s.Whitelist(ctx)
	require.NoError(t, err)
	assert.False(t, wi.RequireSecure)
	assert.Equal(t, "c-1", wi.Center)
	assert.Equal(t, protocol.GrantedBooking, tap(t, s, uidN(0), t0, false).Reason)
}

func TestSecureTapCounterAndAlarm(t *testing.T) {
	s := openTest(t, Options{})
	applyAll(t, s, snapshotParts(1, secureEntries(2), 1))
	uid := uidN(0)
	secureTap := func(auth decide.Auth, ctr uint32, has bool) protocol.Event {
		t.Helper()
		ev, err := s.Tap(ctx, TapRequest{UID: uid, Time: t0, Trusted: true, Boot: "1-abc", Auth: auth, ReadCounter: ctr, HasCounter: has}, decide.DefaultPolicy())
		require.NoError(t, err)
		return ev
	}
	ev := secureTap(decide.AuthOK, 5, true)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)
	assert.Equal(t, uint32(5), ev.ReadCounter)
	last, ok, err := s.LastReadCounter(ctx, uid)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, uint32(5), last)

	assert.Equal(t, protocol.GrantedBooking, secureTap(decide.AuthOK, 6, true).Reason)
	// A replayed exchange (the same counter) and a rolled-back one are refused.
	assert.Equal(t, protocol.DeniedAuthFailed, secureTap(decide.AuthOK, 6, true).Reason)
	assert.Equal(t, protocol.DeniedAuthFailed, secureTap(decide.AuthOK, 2, true).Reason)
	last, _, err = s.LastReadCounter(ctx, uid)
	require.NoError(t, err)
	assert.Equal(t, uint32(6), last, "a refused counter is not kept")
	// A failed authentication, and a secure badge not authenticated at all.
	assert.Equal(t, protocol.DeniedAuthFailed, secureTap(decide.AuthFailed, 0, false).Reason)
	assert.Equal(t, protocol.DeniedAuthFailed, secureTap(decide.AuthNone, 0, false).Reason)

	p, err := s.Pending(ctx, 0, 100)
	require.NoError(t, err)
	var kinds []string
	for _, ev := range p.Events {
		require.NoError(t, ev.Validate(""))
		k := string(ev.Kind)
		if ev.Kind == protocol.EventTap {
			k += ":" + string(ev.Reason)
		}
		kinds = append(kinds, k)
	}
	alarm := string(protocol.EventSuspectedClone)
	assert.Equal(t, []string{"tap:granted_booking", "tap:granted_booking",
		"tap:denied_auth_failed", alarm, "tap:denied_auth_failed", alarm,
		"tap:denied_auth_failed", alarm, "tap:denied_auth_failed", alarm}, kinds)
	a := p.Events[3]
	assert.Equal(t, uid, a.UID)
	assert.Equal(t, "m-000000", a.Member)
	assert.Equal(t, uint32(6), a.ReadCounter, "the alarm carries the replayed counter")
	assert.Equal(t, p.Events[2].Seq+1, a.Seq)
}
