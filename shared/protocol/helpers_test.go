package protocol

import (
	"crypto/ed25519"
	"time"
)

// testNow is the fixed clock of these tests.
var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// testKey returns a deterministic Ed25519 key; n picks one of several.
func testKey(n byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = n + byte(i)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func sampleEntries(n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		uid := []byte{0x04, byte(i >> 16), byte(i >> 8), byte(i), 0x11, 0x22, 0x33}
		out[i] = Entry{
			UID:    UIDFromBytes(uid),
			Member: "member-" + string(rune('a'+i%26)),
			Grants: []Grant{
				{Kind: GrantBooking, From: testNow.Unix(), To: testNow.Add(2 * time.Hour).Unix(), Room: "room-1", Ref: "bk-1"},
				{Kind: GrantPass, From: testNow.Add(-24 * time.Hour).Unix(), To: testNow.Add(30 * 24 * time.Hour).Unix()},
			},
		}
	}
	return out
}

func sampleDelta() *Whitelist {
	return &Whitelist{
		Door: "door-a", Kind: Delta, Version: 8, Base: 7,
		IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(7 * 24 * time.Hour)),
		Center: "center-1", Entries: sampleEntries(2), Removed: []UID{"0A0B0C0D"},
	}
}

func sampleCommand() *Command {
	return &Command{
		ID: "cmd-1", Door: "door-a", Action: ActionUnlock, Seconds: 5,
		IssuedMs: ms(testNow), ExpiresMs: ms(testNow.Add(time.Minute)), By: "admin",
	}
}

func sampleBatch() *EventBatch {
	return &EventBatch{V: Version, Door: "door-a", Events: []Event{
		{Seq: 1, TimeMs: ms(testNow), Trusted: true, Boot: "b1", UptimeMs: 1000, Kind: EventTap, UID: "04A1B2C3", Member: "m1", Reason: GrantedBooking, WLVersion: 7},
		{Seq: 2, TimeMs: ms(testNow) + 10, Trusted: true, Boot: "b1", Kind: EventDoorClosed, WLVersion: 7},
	}}
}
