package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCardKey(n byte) CardKey {
	var k CardKey
	for i := range k {
		k[i] = n + byte(i)
	}
	return k
}

// secureEntry is a secure badge in the middle of a key rotation: version 1
// until its cut-off, and version 2.
func secureEntry() Entry {
	e := sampleEntries(1)[0]
	e.Card = CardNTAG424DNA
	e.Keys = []DoorKey{
		{Version: 1, Key: testCardKey(1), NotAfterMs: ms(testNow.Add(24 * time.Hour))},
		{Version: 2, Key: testCardKey(2)},
	}
	return e
}

func TestEntrySecureValidate(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(e *Entry)
		field string // "" = valid
	}{
		{"rotation with two keys", func(*Entry) {}, ""},
		{"desfire one key", func(e *Entry) { e.Card, e.Keys = CardDESFireEV2, e.Keys[1:] }, ""},
		{"uid only by name", func(e *Entry) { e.Card, e.Keys = CardUIDOnly, nil }, ""},
		{"uid only by default", func(e *Entry) { e.Card, e.Keys = "", nil }, ""},
		{"unknown card", func(e *Entry) { e.Card = "mifare_classic" }, "e.card"},
		{"uid only with keys", func(e *Entry) { e.Card = CardUIDOnly }, "e.keys"},
		{"secure without keys", func(e *Entry) { e.Keys = nil }, "e.keys"},
		{"three keys", func(e *Entry) { e.Keys = append(e.Keys, DoorKey{Version: 3, Key: testCardKey(3)}) }, "e.keys"},
		{"version 0", func(e *Entry) { e.Keys[1].Version = 0 }, "e.keys[1].version"},
		{"same version twice", func(e *Entry) { e.Keys[1].Version = 1 }, "e.keys[1].version"},
		{"zero key", func(e *Entry) { e.Keys[0].Key = CardKey{} }, "e.keys[0].key"},
		{"negative not-after", func(e *Entry) { e.Keys[0].NotAfterMs = -1 }, "e.keys[0].not_after_ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := secureEntry()
			tc.edit(&e)
			err := e.Validate("e.")
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.field, pe.Field)
		})
	}
}

func TestDoorKeyFor(t *testing.T) {
	e := secureEntry()
	cut := e.Keys[0].NotAfterMs
	k, ok := e.DoorKeyFor(1, cut)
	assert.True(t, ok)
	assert.Equal(t, testCardKey(1), k)
	_, ok = e.DoorKeyFor(1, cut+1)
	assert.False(t, ok, "the old version is refused after its cut-off")
	k, ok = e.DoorKeyFor(2, cut+1)
	assert.True(t, ok)
	assert.Equal(t, testCardKey(2), k)
	_, ok = e.DoorKeyFor(3, 0)
	assert.False(t, ok)
}

func TestCardKeyWire(t *testing.T) {
	e := secureEntry()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"card":"ntag424dna"`)
	assert.Contains(t, string(b), `"key":"0102030405060708090A0B0C0D0E0F10"`)
	var back Entry
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, e, back)
	// Keys never print.
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", e, e, e), "0102030405")
	for _, bad := range []string{`"0102"`, `"zz02030405060708090A0B0C0D0E0F10"`, `"0102030405060708090A0B0C0D0E0F1011"`} {
		var k CardKey
		assert.Error(t, json.Unmarshal([]byte(bad), &k), bad)
	}
	// A UID-only entry is encoded as before secure credentials.
	old := sampleEntries(1)[0]
	b, err = json.Marshal(old)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "card")
	assert.NotContains(t, string(b), "keys")
}

func TestSecureWhitelistRoundTrip(t *testing.T) {
	signer := NewSigner(testKey(1))
	keys := NewKeyRing(signer.PublicKey())
	w := sampleDelta()
	w.Entries[0] = secureEntry()
	w.RequireSecure = true
	msg, err := signer.SignWhitelist(w)
	require.NoError(t, err)
	got, err := keys.OpenWhitelist(msg, testNow)
	require.NoError(t, err)
	assert.True(t, got.RequireSecure)
	assert.Equal(t, w.Entries, got.Entries)
	// An old central's whitelist has no policy field.
	w.RequireSecure = false
	msg, err = signer.SignWhitelist(w)
	require.NoError(t, err)
	assert.NotContains(t, string(msg), "require_secure")
}

func TestSecureEvents(t *testing.T) {
	tap := Event{Seq: 1, TimeMs: ms(testNow), Trusted: true, Boot: "b1", Kind: EventTap, UID: "04A1B2C3D4E5F6", Member: "m1", Reason: DeniedAuthFailed, ReadCounter: 7, WLVersion: 3}
	tests := []struct {
		name  string
		edit  func(e *Event)
		field string
	}{
		{"auth failed tap with counter", func(*Event) {}, ""},
		{"not secure", func(e *Event) { e.Reason, e.ReadCounter = DeniedNotSecure, 0 }, ""},
		{"alarm", func(e *Event) { e.Kind, e.Reason = EventSuspectedClone, "" }, ""},
		{"alarm without uid", func(e *Event) { e.Kind, e.Reason, e.UID = EventSuspectedClone, "", "" }, "uid"},
		{"alarm with reason", func(e *Event) { e.Kind = EventSuspectedClone }, "reason"},
		{"counter beyond 24 bits", func(e *Event) { e.ReadCounter = MaxReadCounter + 1 }, "read_ctr"},
		{"counter on a door event", func(e *Event) { e.Kind, e.Reason, e.UID = EventDoorClosed, "", "" }, "read_ctr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tap
			tc.edit(&e)
			err := e.Validate("")
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.field, pe.Field)
		})
	}
	for _, r := range []Reason{DeniedAuthFailed, DeniedNotSecure} {
		assert.True(t, r.Known())
		assert.False(t, r.Granted())
		assert.True(t, strings.HasPrefix(r.Text(), "denied: "))
	}
}

func TestParseCardType(t *testing.T) {
	for in, want := range map[string]CardType{"": CardUIDOnly, "uid_only": CardUIDOnly, "ntag424dna": CardNTAG424DNA, " desfire_ev2 ": CardDESFireEV2} {
		got, err := ParseCardType(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	_, err := ParseCardType("classic")
	assert.Error(t, err)
}

func TestPersonalisationValidate(t *testing.T) {
	keys := func(n int) []CardKey { return make([]CardKey, n) }
	good := Personalisation{UID: "04A1B2C3", CardType: CardNTAG424DNA, KeyVersion: 2, Keys: keys(5), Current: &VersionedKeys{KeyVersion: 1, Keys: keys(5)}}
	require.NoError(t, good.Validate("04A1B2C3", CardNTAG424DNA))
	for name, tc := range map[string]struct {
		edit  func(p *Personalisation)
		field string
	}{
		"other uid":        {func(p *Personalisation) { p.UID = "04A1B2C4" }, "uid"},
		"other card":       {func(p *Personalisation) { p.CardType = CardDESFireEV2 }, "card_type"},
		"version 0":        {func(p *Personalisation) { p.KeyVersion = 0 }, "key_version"},
		"too few keys":     {func(p *Personalisation) { p.Keys = keys(2) }, "keys"},
		"current too few":  {func(p *Personalisation) { p.Current.Keys = keys(4) }, "keys"},
		"current the same": {func(p *Personalisation) { p.Current.KeyVersion = 2 }, "current.key_version"},
	} {
		p := good
		cur := *good.Current
		p.Current = &cur
		tc.edit(&p)
		var pe *Error
		require.ErrorAs(t, p.Validate("04A1B2C3", CardNTAG424DNA), &pe, name)
		assert.Equal(t, tc.field, pe.Field, name)
	}
	assert.Equal(t, 2, PersonalisationKeyCount(CardDESFireEV2))
	assert.Zero(t, PersonalisationKeyCount(CardUIDOnly))
}
