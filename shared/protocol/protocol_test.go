package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeEventBatchErrors(t *testing.T) {
	good, err := Encode(sampleBatch())
	require.NoError(t, err)
	_, err = DecodeEventBatch(good)
	require.NoError(t, err)

	replace := func(old, new string) []byte { return []byte(strings.Replace(string(good), old, new, 1)) }
	tests := []struct {
		name  string
		in    []byte
		kind  error
		field string
	}{
		{"empty", nil, ErrTruncated, ""},
		{"truncated", good[:len(good)/2], ErrTruncated, ""},
		{"oversize", append(bytes.Repeat([]byte(" "), MaxMessageSize), good...), ErrTooLarge, ""},
		{"not json", []byte("hello"), ErrMalformed, ""},
		{"bad last byte", []byte(`{"v":1,"door":"d","events":[}`), ErrMalformed, ""},
		{"bad last byte of envelope-like", []byte(`{"v":1}}`), ErrMalformed, ""},
		{"trailing data", append(append([]byte{}, good...), []byte(`{}`)...), ErrMalformed, ""},
		{"seq is a string", replace(`"seq":1`, `"seq":"1"`), ErrWrongType, "events.seq"},
		{"seq negative", replace(`"seq":1`, `"seq":-1`), ErrWrongType, "events.seq"},
		{"events not a list", []byte(`{"v":1,"door":"door-a","events":{}}`), ErrWrongType, "events"},
		{"unknown field", replace(`"door":"door-a"`, `"door":"door-a","extra":1`), ErrUnknownField, "extra"},
		{"version 2", replace(`"v":1`, `"v":2`), ErrUnsupportedVersion, "v"},
		{"version 2 with new fields", []byte(`{"v":2,"door":"door-a","events":[],"new":true}`), ErrUnsupportedVersion, "v"},
		{"version missing", []byte(`{"door":"door-a","events":[]}`), ErrUnsupportedVersion, "v"},
		{"bad door", replace(`"door":"door-a"`, `"door":"door/#"`), ErrInvalid, "door"},
		{"seq zero", replace(`"seq":1`, `"seq":0`), ErrInvalid, "events[0].seq"},
		{"seq not increasing", replace(`"seq":2`, `"seq":1`), ErrInvalid, "events[1].seq"},
		{"unknown kind", replace(`"kind":"door_closed"`, `"kind":"party"`), ErrInvalid, "events[1].kind"},
		{"unknown reason", replace(`"granted_booking"`, `"granted_bribe"`), ErrInvalid, "events[0].reason"},
		{"bad uid", replace(`"04A1B2C3"`, `"04a1b2c3"`), ErrInvalid, "events[0].uid"},
		{"uid of 5 bytes", replace(`"04A1B2C3"`, `"04A1B2C3D4"`), ErrInvalid, "events[0].uid"},
		{"reason on non-tap", replace(`"kind":"door_closed"`, `"kind":"door_closed","reason":"granted_pass"`), ErrInvalid, "events[1].reason"},
		{"empty batch", []byte(`{"v":1,"door":"door-a","events":[]}`), ErrInvalid, "events"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEventBatch(tc.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind)
			var pe *Error
			require.True(t, errors.As(err, &pe), "error %v is not a *protocol.Error", err)
			assert.Equal(t, tc.field, pe.Field, "field of %v", err)
			assert.NotEqual(t, "other", Code(err))
		})
	}
}

func TestBatchLimit(t *testing.T) {
	b := &EventBatch{V: Version, Door: "d"}
	for i := 1; i <= MaxBatchEvents+1; i++ {
		b.Events = append(b.Events, Event{Seq: uint64(i), TimeMs: 1, Boot: "b", Kind: EventDoorClosed})
	}
	enc, err := Encode(b)
	require.NoError(t, err, "501 small events still fit the size limit")
	_, err = DecodeEventBatch(enc)
	assert.ErrorIs(t, err, ErrInvalid)
	b.Events = b.Events[:MaxBatchEvents]
	enc, err = Encode(b)
	require.NoError(t, err)
	_, err = DecodeEventBatch(enc)
	assert.NoError(t, err)
}

func TestRoundTripsOtherMessages(t *testing.T) {
	ack := &Ack{V: Version, Door: "door-a", Through: 42, ServerMs: ms(testNow)}
	enc, err := Encode(ack)
	require.NoError(t, err)
	gotAck, err := DecodeAck(enc)
	require.NoError(t, err)
	assert.Equal(t, ack, gotAck)

	sr := &SyncRequest{V: Version, Door: "door-a", From: 3}
	enc, err = Encode(sr)
	require.NoError(t, err)
	gotSR, err := DecodeSyncRequest(enc)
	require.NoError(t, err)
	assert.Equal(t, sr, gotSR)

	st := &Status{V: Version, Door: "door-a", State: StateOnline, TimeMs: ms(testNow), WLVersion: 3, OutboxDepth: 12, ClockTrusted: true, DoorState: "locked"}
	enc, err = Encode(st)
	require.NoError(t, err)
	gotSt, err := DecodeStatus(enc)
	require.NoError(t, err)
	assert.Equal(t, st, gotSt)

	_, err = DecodeStatus([]byte(`{"v":1,"door":"door-a","state":"asleep"}`))
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = DecodeAck([]byte(`{"v":1,"door":"door-a","through":1,"server_ms":5}`))
	assert.ErrorIs(t, err, ErrInvalid, "an ack from 1970 cannot advance trusted time")
	_, err = DecodeSyncRequest([]byte(`{"v":1,"door":"","from":0}`))
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestParseUID(t *testing.T) {
	tests := []struct {
		in   string
		want UID
		ok   bool
	}{
		{"04a1b2c3", "04A1B2C3", true},
		{"04:A1:B2:C3:D4:E5:F6", "04A1B2C3D4E5F6", true},
		{" 04 a1 b2 c3 d4 e5 f6 07 08 09 ", "04A1B2C3D4E5F6070809", true},
		{"04A1B2", "", false},
		{"04A1B2C3D4", "", false},
		{"zz", "", false},
	}
	for _, tc := range tests {
		got, err := ParseUID(tc.in)
		if !tc.ok {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
		assert.NoError(t, got.Validate())
		assert.Equal(t, got, UIDFromBytes(got.Bytes()))
	}
}

func TestValidID(t *testing.T) {
	for _, ok := range []string{"a", "door-1", "Center_2.b", strings.Repeat("x", MaxIDLen)} {
		assert.NoError(t, ValidID(ok), ok)
	}
	for _, bad := range []string{"", "-a", "a/b", "a+", "#", "$SYS", "a b", "é", strings.Repeat("x", MaxIDLen+1)} {
		assert.Error(t, ValidID(bad), bad)
	}
}

func TestTopics(t *testing.T) {
	tp := DefaultTopics()
	assert.Equal(t, "swc/v1/door/d1/events", tp.Door("d1", TopicEvents))
	assert.Equal(t, "swc/v1/door/+/status", tp.All(TopicStatus))
	assert.Equal(t, "$share/ingest/swc/v1/door/+/events", Shared("ingest", tp.All(TopicEvents)))
	assert.Equal(t, "swc/v1/door/+/events", Shared("", tp.All(TopicEvents)))

	door, kind, err := tp.Parse("swc/v1/door/d1/events")
	require.NoError(t, err)
	assert.Equal(t, "d1", door)
	assert.Equal(t, TopicEvents, kind)
	for _, bad := range []string{"swc/v1/door/d1", "swc/v2/door/d1/events", "swc/v1/door/d1/events/x", "swc/v1/door/+/events", "swc/v1/door/d1/nope"} {
		_, _, err := tp.Parse(bad)
		assert.Error(t, err, bad)
	}

	tests := []struct {
		topic    string
		pub, sub bool
	}{
		{"swc/v1/door/d1/events", true, false},
		{"swc/v1/door/d1/sync", true, false},
		{"swc/v1/door/d1/status", true, false},
		{"swc/v1/door/d1/ack", false, true},
		{"swc/v1/door/d1/whitelist", false, true},
		{"swc/v1/door/d1/commands", false, true},
		{"swc/v1/door/d1/renew", true, false},
		{"swc/v1/door/d1/cert", false, true},
		{"swc/v1/door/d2/renew", false, false},
		{"swc/v1/door/d2/cert", false, false},
		{"swc/v1/door/d2/events", false, false},
		{"swc/v1/door/d2/ack", false, false},
		{"swc/v1/door/+/ack", false, false},
		{"swc/v1/door/#", false, false},
		{"#", false, false},
		{"$SYS/broker/uptime", false, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.pub, tp.DoorMayPublish("d1", tc.topic), "publish %s", tc.topic)
		assert.Equal(t, tc.sub, tp.DoorMaySubscribe("d1", tc.topic), "subscribe %s", tc.topic)
	}
	for _, topic := range tp.DoorTopics("d1") {
		assert.True(t, tp.DoorMaySubscribe("d1", topic))
	}

	custom, err := NewTopics("coop/test")
	require.NoError(t, err)
	assert.Equal(t, "coop/test/door/d/ack", custom.Door("d", TopicAck))
	for _, bad := range []string{"a//b", "a/+", "$SYS", "a/"} {
		_, err := NewTopics(bad)
		assert.Error(t, err, bad)
	}
}

func TestSignedWhitelist(t *testing.T) {
	signer := NewSigner(testKey(1))
	keys := NewKeyRing(signer.PublicKey())
	msg, err := signer.SignWhitelist(sampleDelta())
	require.NoError(t, err)

	w, err := keys.OpenWhitelist(msg, testNow)
	require.NoError(t, err)
	assert.Equal(t, uint64(8), w.Version)
	assert.Len(t, w.Entries, 2)
	assert.NoError(t, w.CheckFor("door-a", 7))

	other := NewSigner(testKey(2))
	forged, err := other.SignWhitelist(sampleDelta())
	require.NoError(t, err)

	// A signature by the right key over other bytes: splice a signature of
	// message A onto the body of message B.
	d2 := sampleDelta()
	d2.Entries[0].Revoked = true
	msg2, err := signer.SignWhitelist(d2)
	require.NoError(t, err)
	spliced := spliceBody(t, msg, msg2)

	var env map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(msg, &env))
	bodyOnly := []byte(env["body"])
	withoutSig := []byte(strings.Replace(string(msg), `"sig":`, `"xsig":`, 1))
	emptySig := []byte(strings.Replace(string(msg), string(env["sig"]), `""`, 1))
	shortSig := []byte(strings.Replace(string(msg), string(env["sig"]), `"`+base64.StdEncoding.EncodeToString([]byte("abc"))+`"`, 1))
	tampered := []byte(strings.Replace(string(msg), `"version":8`, `"version":9`, 1))
	whitespace := []byte(strings.Replace(string(msg), `"version":8`, `"version": 8`, 1))
	asCommand := []byte(strings.Replace(string(msg), `"type":"whitelist"`, `"type":"command"`, 1))

	expiredMsg := sampleDelta()
	expiredMsg.IssuedMs, expiredMsg.ExpiresMs = ms(testNow.Add(-48*time.Hour)), ms(testNow.Add(-time.Hour))
	expired, err := signer.SignWhitelist(expiredMsg)
	require.NoError(t, err)

	tests := []struct {
		name string
		in   []byte
		kind error
	}{
		{"truncated", msg[:len(msg)-10], ErrTruncated},
		{"oversize", append(bytes.Repeat([]byte(" "), MaxMessageSize), msg...), ErrTooLarge},
		{"not an object", []byte(`[1,2]`), ErrWrongType},
		{"unsigned body alone", bodyOnly, ErrUnsigned},
		{"sig renamed", withoutSig, ErrUnsigned},
		{"empty sig", emptySig, ErrUnsigned},
		{"short sig", shortSig, ErrBadSignature},
		{"forged with another key", forged, ErrUnknownKey},
		{"tampered body", tampered, ErrBadSignature},
		{"re-spaced body", whitespace, ErrBadSignature},
		{"signature of another body", spliced, ErrBadSignature},
		{"type swapped", asCommand, ErrInvalid},
		{"expired", expired, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.OpenWhitelist(tc.in, testNow)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.kind)
		})
	}

	t.Run("forged key becomes bad signature when the id is spoofed", func(t *testing.T) {
		spoofed := []byte(strings.Replace(string(forged), other.KeyID(), signer.KeyID(), 1))
		_, err := keys.OpenWhitelist(spoofed, testNow)
		assert.ErrorIs(t, err, ErrBadSignature)
	})

	t.Run("door state checks", func(t *testing.T) {
		assert.ErrorIs(t, w.CheckFor("door-b", 7), ErrWrongDoor)
		assert.ErrorIs(t, w.CheckFor("door-a", 8), ErrReplay, "same version again")
		assert.ErrorIs(t, w.CheckFor("door-a", 9), ErrReplay, "older version")
		assert.ErrorIs(t, w.CheckFor("door-a", 6), ErrGap, "door is behind the delta's base")
		assert.ErrorIs(t, w.CheckFor("door-a", 0), ErrGap)
	})
}

func spliceBody(t *testing.T, sigFrom, bodyFrom []byte) []byte {
	t.Helper()
	var a, b map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(sigFrom, &a))
	require.NoError(t, json.Unmarshal(bodyFrom, &b))
	return []byte(strings.Replace(string(sigFrom), string(a["body"]), string(b["body"]), 1))
}

func TestSnapshotParts(t *testing.T) {
	signer := NewSigner(testKey(1))
	keys := NewKeyRing(signer.PublicKey())
	entries := sampleEntries(5000)
	h := Whitelist{Door: "door-a", Version: 3, IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(time.Hour)), Center: "c1"}
	parts, err := signer.SignSnapshot(h, entries)
	require.NoError(t, err)
	require.Greater(t, len(parts), 1, "5000 entries need several parts")

	var got []Entry
	for i, p := range parts {
		assert.LessOrEqual(t, len(p), MaxMessageSize)
		w, err := keys.OpenWhitelist(p, testNow)
		require.NoError(t, err, "part %d", i+1)
		assert.Equal(t, Snapshot, w.Kind)
		assert.Equal(t, i+1, w.Part)
		assert.Equal(t, len(parts), w.Parts)
		assert.NoError(t, w.CheckFor("door-a", 2))
		got = append(got, w.Entries...)
	}
	assert.Equal(t, entries, got)

	empty, err := signer.SignSnapshot(h, nil)
	require.NoError(t, err)
	require.Len(t, empty, 1)
	w, err := keys.OpenWhitelist(empty[0], testNow)
	require.NoError(t, err)
	assert.Empty(t, w.Entries)
	assert.Equal(t, 1, w.Parts)

	dup := append(sampleEntries(2), sampleEntries(1)...)
	_, err = signer.SignSnapshot(h, dup)
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestDeltaTooLarge(t *testing.T) {
	signer := NewSigner(testKey(1))
	d := sampleDelta()
	d.Entries = sampleEntries(5000)
	_, err := signer.SignWhitelist(d)
	assert.ErrorIs(t, err, ErrTooLarge, "a delta that does not fit must say so, so the central sends a snapshot")
}

func TestWhitelistValidation(t *testing.T) {
	signer := NewSigner(testKey(1))
	mut := []struct {
		name  string
		f     func(w *Whitelist)
		field string
	}{
		{"zero version", func(w *Whitelist) { w.Version = 0 }, "version"},
		{"base not below version", func(w *Whitelist) { w.Base = 8 }, "base"},
		{"delta with parts", func(w *Whitelist) { w.Part, w.Parts = 1, 1 }, "part"},
		{"unknown kind", func(w *Whitelist) { w.Kind = "diff" }, "kind"},
		{"expiry before issue", func(w *Whitelist) { w.ExpiresMs = w.IssuedMs }, "expires_ms"},
		{"issued in 1970", func(w *Whitelist) { w.IssuedMs = 5 }, "issued_ms"},
		{"duplicate uid", func(w *Whitelist) { w.Removed = []UID{w.Entries[0].UID} }, "removed[0]"},
		{"grant ends before start", func(w *Whitelist) { w.Entries[0].Grants[0].To = w.Entries[0].Grants[0].From }, "entries[0].grants[0].to"},
		{"booking without end", func(w *Whitelist) { w.Entries[0].Grants[0].To = 0 }, "entries[0].grants[0].from"},
		{"unknown grant", func(w *Whitelist) { w.Entries[1].Grants[1].Kind = "vip" }, "entries[1].grants[1].kind"},
		{"bad member", func(w *Whitelist) { w.Entries[1].Member = "" }, "entries[1].member"},
		{"held open negative", func(w *Whitelist) { w.HeldOpenS = -1 }, "held_open_s"},
		{"held open over a day", func(w *Whitelist) { w.HeldOpenS = MaxHeldOpenSeconds + 1 }, "held_open_s"},
	}
	for _, tc := range mut {
		t.Run(tc.name, func(t *testing.T) {
			d := sampleDelta()
			tc.f(d)
			_, err := signer.SignWhitelist(d)
			require.ErrorIs(t, err, ErrInvalid)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.field, pe.Field)
		})
	}
}

// TestWhitelistHeldOpen: the held-open threshold travels in every message
// of a whitelist (the delta and each snapshot part), is omitted when unset
// (what an older door or central reads and writes), and is bounded on the
// way in as on the way out.
func TestWhitelistHeldOpen(t *testing.T) {
	signer := NewSigner(testKey(1))
	keys := NewKeyRing(signer.PublicKey())
	for _, s := range []int{1, 5, MaxHeldOpenSeconds} {
		d := sampleDelta()
		d.HeldOpenS = s
		msg, err := signer.SignWhitelist(d)
		require.NoError(t, err)
		assert.Contains(t, string(msg), fmt.Sprintf(`"held_open_s":%d`, s))
		w, err := keys.OpenWhitelist(msg, testNow)
		require.NoError(t, err)
		assert.Equal(t, s, w.HeldOpenS)
	}
	msg, err := signer.SignWhitelist(sampleDelta())
	require.NoError(t, err)
	assert.NotContains(t, string(msg), "held_open", "absent when unset")
	w, err := keys.OpenWhitelist(msg, testNow)
	require.NoError(t, err)
	assert.Zero(t, w.HeldOpenS)

	parts, err := signer.SignSnapshot(Whitelist{Door: "door-a", Version: 3, IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(time.Hour)), HeldOpenS: 5}, sampleEntries(3))
	require.NoError(t, err)
	for _, p := range parts {
		w, err := keys.OpenWhitelist(p, testNow)
		require.NoError(t, err)
		assert.Equal(t, 5, w.HeldOpenS)
	}

	// A signed body out of bounds (a central without the check) is refused
	// by the door as invalid, naming the field.
	d := sampleDelta()
	d.V = Version
	body, err := json.Marshal(d)
	require.NoError(t, err)
	require.Contains(t, string(body), `"center":`)
	for _, bad := range []string{`-1`, `86401`, `"5"`, `5.5`} {
		msg, err := signer.seal(TypeWhitelist, []byte(strings.Replace(string(body), `"center":`, `"held_open_s":`+bad+`,"center":`, 1)))
		require.NoError(t, err)
		_, err = keys.OpenWhitelist(msg, testNow)
		require.Error(t, err, bad)
		assert.NotEqual(t, "other", Code(err), bad)
	}
}

func TestSignedCommand(t *testing.T) {
	signer := NewSigner(testKey(1))
	keys := NewKeyRing(signer.PublicKey())
	msg, err := signer.SignCommand(sampleCommand())
	require.NoError(t, err)
	c, err := keys.OpenCommand(msg, "door-a", testNow)
	require.NoError(t, err)
	assert.Equal(t, "cmd-1", c.ID)
	assert.Equal(t, 5, c.Seconds)

	_, err = keys.OpenCommand(msg, "door-b", testNow)
	assert.ErrorIs(t, err, ErrWrongDoor)
	_, err = keys.OpenCommand(msg, "door-a", testNow.Add(time.Hour))
	assert.ErrorIs(t, err, ErrExpired)
	_, err = NewKeyRing(NewSigner(testKey(3)).PublicKey()).OpenCommand(msg, "door-a", testNow)
	assert.ErrorIs(t, err, ErrUnknownKey)
	_, err = keys.OpenWhitelist(msg, testNow)
	assert.ErrorIs(t, err, ErrInvalid, "a command is not a whitelist")

	body, _ := json.Marshal(sampleCommand())
	_, err = keys.OpenCommand(body, "door-a", testNow)
	assert.ErrorIs(t, err, ErrUnsigned)

	for name, f := range map[string]func(c *Command){
		"unlock too long": func(c *Command) { c.Seconds = MaxUnlockSeconds + 1 },
		"unlock zero":     func(c *Command) { c.Seconds = 0 },
		"relock seconds":  func(c *Command) { c.Action = ActionRelock },
		"unknown action":  func(c *Command) { c.Action = "explode" },
		"lives too long":  func(c *Command) { c.ExpiresMs = c.IssuedMs + int64(25*time.Hour/time.Millisecond) },
	} {
		c := sampleCommand()
		f(c)
		_, err := signer.SignCommand(c)
		assert.ErrorIs(t, err, ErrInvalid, name)
	}
}

func TestPublicKeyFormat(t *testing.T) {
	pub := testKey(1).Public().(ed25519.PublicKey)
	s := FormatPublicKey(pub)
	got, err := ParsePublicKey(s)
	require.NoError(t, err)
	assert.Equal(t, pub, got)
	for _, bad := range []string{"", "rsa:abc", "ed25519:!!", "ed25519:" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := ParsePublicKey(bad)
		assert.Error(t, err, bad)
	}
}

func TestReasons(t *testing.T) {
	assert.True(t, GrantedStaff.Granted())
	assert.False(t, DeniedRevoked.Granted())
	assert.Equal(t, "denied: badge revoked", DeniedRevoked.Text())
	assert.False(t, Reason("nope").Known())
}

func TestSnapshotEntriesSignedForSeveralDoors(t *testing.T) {
	signer := NewSigner(testKey(1))
	entries := sampleEntries(5000)
	se, err := EncodeSnapshotEntries(entries)
	require.NoError(t, err)
	assert.Equal(t, 5000, se.Len())
	assert.Greater(t, se.Size(), 5000)
	for _, door := range []string{"door-a", "door-b"} {
		h := Whitelist{Door: door, Version: 3, IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(time.Hour)), Center: "c1", Room: "r1"}
		want, err := signer.SignSnapshot(h, entries)
		require.NoError(t, err)
		got, err := signer.SignSnapshotEntries(h, se)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%s: the same messages as SignSnapshot", door)
	}
	_, err = EncodeSnapshotEntries(append(sampleEntries(2), sampleEntries(1)...))
	assert.ErrorIs(t, err, ErrInvalid)
}
