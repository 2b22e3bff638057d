package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/shared/protocol"
)

var ctx = context.Background()

func TestOpenBindsDoor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "edge.db")
	s, err := Open(ctx, path, Options{Door: "door-1"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice")
	_, err = s.Append(ctx, protocol.Event{Kind: protocol.EventDoorClosed, Boot: "1-a", TimeMs: 1})
	require.ErrorIs(t, err, ErrClosed)

	_, err = Open(ctx, path, Options{Door: "door-2"})
	require.ErrorIs(t, err, ErrWrongDoor)
	assert.Contains(t, err.Error(), `it holds door "door-1", the configuration says "door-2"`)

	s, err = Open(ctx, path, Options{Door: "door-1"})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = Open(ctx, path, Options{Door: "bad/door"})
	require.ErrorContains(t, err, `door id "bad/door"`)
}

func TestBoundDoor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	door, err := s.BoundDoor(ctx)
	require.NoError(t, err)
	assert.Empty(t, door, "a new file is bound to no door")
	require.NoError(t, s.Close())
	s, err = Open(ctx, path, Options{Door: "door-7"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer s.Close()
	door, err = s.BoundDoor(ctx)
	require.NoError(t, err)
	assert.Equal(t, "door-7", door)
}

func TestBootAndTrustedTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	b1, err := s.StartBoot(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), b1.Number)
	require.NoError(t, protocol.ValidID(b1.ID))

	tt, err := s.TrustedTime(ctx)
	require.NoError(t, err)
	assert.True(t, tt.IsZero())
	got, err := s.AdvanceTrustedTime(ctx, t0)
	require.NoError(t, err)
	assert.True(t, got.Equal(t0))
	got, err = s.AdvanceTrustedTime(ctx, t0.Add(-time.Hour))
	require.NoError(t, err)
	assert.True(t, got.Equal(t0), "the last trusted time never goes back")
	require.NoError(t, s.Close())

	s, err = Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	defer s.Close()
	b2, err := s.StartBoot(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), b2.Number)
	assert.NotEqual(t, b1.ID, b2.ID)
	tt, err = s.TrustedTime(ctx)
	require.NoError(t, err)
	assert.True(t, tt.Equal(t0), "persisted across reopen")
}

func TestEntryEncodingRoundTrip(t *testing.T) {
	tests := []protocol.Entry{
		{UID: "04A1B2C3", Member: "m-1"},
		{UID: "04A1B2C3D4E5F6", Member: "m-2", Revoked: true},
		{UID: "04A1B2C3D4E5F60708AA", Member: "m-3", Grants: []protocol.Grant{
			{Kind: protocol.GrantStaff},
			{Kind: protocol.GrantPass, From: 1, To: 1 << 40},
			{Kind: protocol.GrantBooking, From: t0.Unix(), To: t0.Unix() + 3600, Room: "r-blue", Ref: "bk-9"},
		}},
	}
	tests = append(tests, secureEntries(4)[2:]...) // secure badges with one door key, and with two
	for _, want := range tests {
		t.Run(string(want.UID), func(t *testing.T) {
			v := encodeEntry(nil, &want)
			var got protocol.Entry
			require.NoError(t, decodeEntry(want.UID, v, &got, true))
			assert.Equal(t, want, got)
			for cut := 0; cut < len(v); cut++ {
				assert.Error(t, decodeEntry(want.UID, v[:cut], &got, true), "truncated at %d", cut)
			}
			assert.Error(t, decodeEntry(want.UID, append(v, 0), &got, true), "trailing byte")
		})
	}
}

func tap(t *testing.T, s *Store, uid protocol.UID, at time.Time, repeat bool) protocol.Event {
	t.Helper()
	ev, err := s.Tap(ctx, TapRequest{UID: uid, Time: at, Trusted: true, Boot: "1-abc", UptimeMs: 5, Repeat: repeat}, decide.DefaultPolicy())
	require.NoError(t, err)
	return ev
}

func TestTapDecidesAndRecords(t *testing.T) {
	s := openTest(t, Options{})
	ev := tap(t, s, uidN(1), t0, false)
	assert.Equal(t, protocol.DeniedNoWhitelist, ev.Reason)
	assert.Equal(t, uint64(1), ev.Seq)

	es := entries(10)
	es[3].Revoked = true
	applyAll(t, s, snapshotParts(5, es, 3))

	tests := []struct {
		uid    protocol.UID
		at     time.Time
		repeat bool
		want   protocol.Reason
		member string
	}{
		{uidN(1), t0, false, protocol.GrantedBooking, "m-000001"},
		{uidN(3), t0, false, protocol.DeniedRevoked, "m-000003"},
		{uidN(99), t0, false, protocol.DeniedUnknownBadge, ""},
		{uidN(2), t0.Add(2 * time.Hour), false, protocol.DeniedOutsideWindow, "m-000002"},
		{uidN(1), t0, true, protocol.DeniedDebounce, "m-000001"},
	}
	for i, tt := range tests {
		ev := tap(t, s, tt.uid, tt.at, tt.repeat)
		assert.Equal(t, tt.want, ev.Reason, "tap %d", i)
		assert.Equal(t, tt.member, ev.Member, "tap %d", i)
		assert.Equal(t, uint64(i+2), ev.Seq, "tap %d", i)
		assert.Equal(t, uint64(5), ev.WLVersion)
		assert.Equal(t, tt.at.UnixMilli(), ev.TimeMs)
	}
	p, err := s.Pending(ctx, 0, 100)
	require.NoError(t, err)
	pending := p.Events
	require.Len(t, pending, 6)
	for i, ev := range pending {
		assert.Equal(t, uint64(i+1), ev.Seq)
		require.NoError(t, ev.Validate(""))
	}
	assert.Equal(t, protocol.GrantedBooking, pending[1].Reason)

	// Decide is the same decision without a record.
	dry, err := s.Decide(ctx, TapRequest{UID: uidN(1), Time: t0, Trusted: true, Boot: "1-abc"}, decide.DefaultPolicy())
	require.NoError(t, err)
	assert.Equal(t, protocol.GrantedBooking, dry.Reason)
	assert.Zero(t, dry.Seq)
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(6), st.Depth)

	// A trusted tap advanced the last trusted time.
	tt, err := s.TrustedTime(ctx)
	require.NoError(t, err)
	assert.True(t, tt.Equal(t0.Add(2*time.Hour)), "got %v", tt)
}

func TestTapUntrustedClockDoesNotAdvanceTrustedTime(t *testing.T) {
	s := openTest(t, Options{})
	applyAll(t, s, snapshotParts(1, entries(2), 1))
	ev, err := s.Tap(ctx, TapRequest{UID: uidN(1), Time: t0.Add(time.Hour), Trusted: false, Boot: "1-abc"}, decide.DefaultPolicy())
	require.NoError(t, err)
	assert.Equal(t, protocol.DeniedClockUntrusted, ev.Reason)
	assert.False(t, ev.Trusted)
	tt, err := s.TrustedTime(ctx)
	require.NoError(t, err)
	assert.True(t, tt.Equal(time.UnixMilli(snapshotHeader(1).IssuedMs)), "only the snapshot's issued-at, got %v", tt)
}

func TestBadInputIsRefusedWithoutRecord(t *testing.T) {
	s := openTest(t, Options{})
	tests := []struct {
		name string
		do   func() error
		want string
	}{
		{"tap with lower-case uid", func() error {
			_, err := s.Tap(ctx, TapRequest{UID: "04a1b2c3", Time: t0, Boot: "1-a"}, decide.DefaultPolicy())
			return err
		}, "uid"},
		{"tap with 5-byte uid", func() error {
			_, err := s.Tap(ctx, TapRequest{UID: "04A1B2C3D4", Time: t0, Boot: "1-a"}, decide.DefaultPolicy())
			return err
		}, "uid"},
		{"tap without boot", func() error {
			_, err := s.Tap(ctx, TapRequest{UID: "04A1B2C3", Time: t0}, decide.DefaultPolicy())
			return err
		}, "boot"},
		{"event of unknown kind", func() error {
			_, err := s.Append(ctx, protocol.Event{Kind: "door_exploded", Boot: "1-a", TimeMs: t0.UnixMilli()})
			return err
		}, "kind"},
		{"door event with a reason", func() error {
			_, err := s.Append(ctx, protocol.Event{Kind: protocol.EventDoorForced, Reason: protocol.GrantedStaff, Boot: "1-a", TimeMs: t0.UnixMilli()})
			return err
		}, "reason"},
		{"remote unlock without command", func() error {
			_, err := s.Append(ctx, protocol.Event{Kind: protocol.EventRemoteUnlock, Boot: "1-a", TimeMs: t0.UnixMilli()})
			return err
		}, "command"},
		{"cancelled context", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := s.Append(c, protocol.Event{Kind: protocol.EventDoorForced, Boot: "1-a", TimeMs: t0.UnixMilli()})
			return err
		}, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Depth)
	assert.Zero(t, st.LastSeq, "a refused event consumes no sequence number")
	ev, err := s.Append(ctx, protocol.Event{Kind: protocol.EventDoorForced, Boot: "1-a", TimeMs: t0.UnixMilli()})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), ev.Seq)
}

func TestOutboxPendingAckAndStats(t *testing.T) {
	s := openTest(t, Options{OutboxAlarm: 5})
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, OutboxStats{AlarmAt: 5, Store: st.Store}, st)
	assert.NotEmpty(t, st.Store)

	for i := 0; i < 7; i++ {
		_, err := s.Append(ctx, protocol.Event{Kind: protocol.EventDoorClosed, Boot: "1-a", TimeMs: t0.Add(time.Duration(i) * time.Minute).UnixMilli()})
		require.NoError(t, err)
	}
	st, err = s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(7), st.Depth)
	assert.Equal(t, uint64(1), st.FirstSeq)
	assert.True(t, st.Oldest.Equal(t0))
	assert.True(t, st.Alarm)

	id, err := s.StoreID(ctx)
	require.NoError(t, err)
	require.NoError(t, protocol.ValidStoreID(id))
	p, err := s.Pending(ctx, 0, 3)
	require.NoError(t, err)
	batch := p.Events
	require.Len(t, batch, 3)
	assert.Equal(t, id, p.Store)
	assert.Equal(t, uint64(3), p.Last)
	assert.Equal(t, []uint64{1, 2, 3}, []uint64{batch[0].Seq, batch[1].Seq, batch[2].Seq})
	p, err = s.Pending(ctx, 3, 100)
	require.NoError(t, err)
	batch = p.Events
	require.Len(t, batch, 4)
	assert.Equal(t, uint64(4), batch[0].Seq)
	_, err = s.Pending(ctx, 0, 0)
	require.Error(t, err)

	n, err := s.Ack(ctx, id, 3)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	n, err = s.Ack(ctx, id, 2)
	require.NoError(t, err)
	assert.Zero(t, n, "a duplicate older ack deletes nothing")
	_, err = s.Ack(ctx, id, 8)
	require.ErrorIs(t, err, ErrAckAhead)
	n, err = s.Ack(ctx, "another-store", 7)
	require.NoError(t, err)
	assert.Zero(t, n, "an ack of another store deletes nothing here")

	st, err = s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), st.Depth, "the ack beyond the last event deleted nothing")
	assert.Equal(t, uint64(4), st.FirstSeq)
	assert.True(t, st.Oldest.Equal(t0.Add(3*time.Minute)))
	assert.False(t, st.Alarm)

	n, err = s.Ack(ctx, id, 7)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	st, err = s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Depth)
	assert.Equal(t, uint64(7), st.LastSeq)
	ev, err := s.Append(ctx, protocol.Event{Kind: protocol.EventDoorClosed, Boot: "1-a", TimeMs: t0.UnixMilli()})
	require.NoError(t, err)
	assert.Equal(t, uint64(8), ev.Seq, "the sequence continues after the outbox emptied")
}

func TestSnapshotStagingAndApply(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edge.db")
	s, err := Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	applyAll(t, s, snapshotParts(3, entries(20), 2))

	// Version 4 replaces everything: badges 10..29, staged out of order
	// across a restart.
	v4 := snapshotParts(4, entries(30)[10:], 3)
	res, err := s.StageSnapshot(ctx, v4[2])
	require.NoError(t, err)
	assert.Equal(t, ApplyResult{Version: 3, Staged: 1, Parts: 3}, res)
	res, err = s.StageSnapshot(ctx, v4[2])
	require.NoError(t, err, "a part received twice is fine")
	assert.Equal(t, 1, res.Staged)
	require.NoError(t, s.Close())
	s, err = Open(ctx, path, Options{Door: testDoor})
	require.NoError(t, err)
	defer s.Close()
	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), wi.Version)
	assert.Equal(t, uint64(4), wi.Staging)
	assert.Equal(t, 1, wi.StagedParts)
	assert.Equal(t, 3, wi.StagingOf)

	res, err = s.StageSnapshot(ctx, v4[0])
	require.NoError(t, err)
	assert.False(t, res.Applied)
	// Until the last part, decisions use version 3.
	ev := tap(t, s, uidN(5), t0, false)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)
	assert.Equal(t, uint64(3), ev.WLVersion)

	res, err = s.StageSnapshot(ctx, v4[1])
	require.NoError(t, err)
	assert.Equal(t, ApplyResult{Applied: true, Version: 4, Staged: 3, Parts: 3}, res)

	wi, err = s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, WhitelistInfo{Version: 4, Issued: time.UnixMilli(v4[0].IssuedMs), Expires: time.UnixMilli(v4[0].ExpiresMs), Center: "c-1", Badges: 20}, wi)
	ev = tap(t, s, uidN(5), t0, false)
	assert.Equal(t, protocol.DeniedUnknownBadge, ev.Reason, "badges not in the snapshot are gone")
	ev = tap(t, s, uidN(29), t0, false)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)
	e, ok, err := s.Entry(ctx, uidN(29))
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "b-29", e.Grants[0].Ref)
	require.NoError(t, s.Check(ctx))
}

func TestSnapshotRefusals(t *testing.T) {
	s := openTest(t, Options{})
	applyAll(t, s, snapshotParts(5, entries(4), 1))

	other := snapshotParts(6, entries(4), 2)[0]
	other.Door = "door-9"
	mismatch := snapshotParts(8, entries(4), 2)[1]
	mismatch.IssuedMs++

	tests := []struct {
		name string
		w    *protocol.Whitelist
		kind error
	}{
		{"replay of the version held", snapshotParts(5, entries(4), 1)[0], protocol.ErrReplay},
		{"rollback", snapshotParts(4, entries(4), 1)[0], protocol.ErrReplay},
		{"another door", other, protocol.ErrWrongDoor},
		{"invalid body", &protocol.Whitelist{V: 1, Door: testDoor, Kind: protocol.Snapshot, Version: 9, Part: 3, Parts: 2, IssuedMs: t0.UnixMilli(), ExpiresMs: t0.Add(time.Hour).UnixMilli()}, protocol.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.StageSnapshot(ctx, tt.w)
			require.ErrorIs(t, err, tt.kind)
		})
	}

	// Staging version 8; an older version 7 is refused, a part of 8 with
	// another header is refused, and version 9 supersedes 8.
	_, err := s.StageSnapshot(ctx, snapshotParts(8, entries(4), 2)[0])
	require.NoError(t, err)
	_, err = s.StageSnapshot(ctx, snapshotParts(7, entries(4), 2)[0])
	require.ErrorIs(t, err, protocol.ErrReplay)
	_, err = s.StageSnapshot(ctx, mismatch)
	require.ErrorIs(t, err, protocol.ErrInvalid)
	res, err := s.StageSnapshot(ctx, snapshotParts(9, entries(4), 2)[1])
	require.NoError(t, err)
	assert.Equal(t, 1, res.Staged, "version 8's part was discarded")

	// A badge in two parts: the set is dropped, nothing applied.
	dup := snapshotParts(10, entries(4), 2)
	dup[1].Entries = append([]protocol.Entry{dup[0].Entries[0]}, dup[1].Entries...)
	_, err = s.StageSnapshot(ctx, dup[0])
	require.NoError(t, err)
	_, err = s.StageSnapshot(ctx, dup[1])
	require.ErrorIs(t, err, protocol.ErrInvalid)
	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(5), wi.Version)
	assert.Zero(t, wi.Staging, "the bad set was dropped so a fresh snapshot can come")

	wi, err = s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), wi.Badges, "the whitelist held is intact")
	assert.Equal(t, "other", protocol.Code(errors.New("x")))
}

func TestDelta(t *testing.T) {
	s := openTest(t, Options{})
	applyAll(t, s, snapshotParts(5, entries(4), 1))
	delta := func(base, version uint64) *protocol.Whitelist {
		return &protocol.Whitelist{V: 1, Door: testDoor, Kind: protocol.Delta, Base: base, Version: version, IssuedMs: t0.UnixMilli(), ExpiresMs: t0.Add(time.Hour).UnixMilli()}
	}
	d := delta(5, 6)
	d.Entries = []protocol.Entry{{UID: uidN(1), Member: "m-000001", Revoked: true}, entries(9)[8]}
	d.Removed = []protocol.UID{uidN(2), uidN(77)}
	res, err := s.ApplyDelta(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, ApplyResult{Applied: true, Version: 6}, res)

	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(6), wi.Version)
	assert.Equal(t, uint64(4), wi.Badges, "4 + 1 new - 1 removed (77 was not there)")
	assert.Equal(t, "c-1", wi.Center, "a delta without center keeps the center")

	tests := []struct {
		uid  protocol.UID
		want protocol.Reason
	}{
		{uidN(1), protocol.DeniedRevoked},
		{uidN(2), protocol.DeniedUnknownBadge},
		{uidN(3), protocol.GrantedBooking},
		{uidN(8), protocol.GrantedBooking},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tap(t, s, tt.uid, t0, false).Reason, "badge %s", tt.uid)
	}

	_, err = s.ApplyDelta(ctx, delta(5, 6))
	require.ErrorIs(t, err, protocol.ErrReplay)
	_, err = s.ApplyDelta(ctx, delta(7, 8))
	require.ErrorIs(t, err, protocol.ErrGap)
	assert.Equal(t, "gap", protocol.Code(err))
	res, err = s.ApplyWhitelist(ctx, delta(6, 7))
	require.NoError(t, err)
	assert.Equal(t, uint64(7), res.Version)
}

func TestRecordCommandAtMostOnce(t *testing.T) {
	s := openTest(t, Options{})
	unlock := &protocol.Event{Kind: protocol.EventRemoteUnlock, Boot: "1-a", TimeMs: t0.UnixMilli(), Command: "cmd-1"}
	ev, err := s.RecordCommand(ctx, "cmd-1", t0.Add(time.Hour), t0, unlock)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), ev.Seq)
	assert.Equal(t, "cmd-1", ev.Command)

	_, err = s.RecordCommand(ctx, "cmd-1", t0.Add(time.Hour), t0.Add(time.Minute), unlock)
	require.ErrorIs(t, err, ErrCommandSeen)
	st, err := s.OutboxStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), st.LastSeq, "a refused command records no event")

	ev, err = s.RecordCommand(ctx, "cmd-2", t0.Add(time.Hour), t0, nil)
	require.NoError(t, err)
	assert.Zero(t, ev.Seq)

	// Past cmd-1's expiry, a later command forgets it.
	_, err = s.RecordCommand(ctx, "cmd-3", t0.Add(3*time.Hour), t0.Add(2*time.Hour), nil)
	require.NoError(t, err)
	for id, want := range map[string]bool{"cmd-1": false, "cmd-2": false, "cmd-3": true} {
		seen, err := s.CommandSeen(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, seen, id)
	}
	_, err = s.RecordCommand(ctx, "bad id", t0, t0, nil)
	require.Error(t, err)
}

func TestSignedSnapshotThroughTheProtocol(t *testing.T) {
	s := openTest(t, Options{})
	parts := signedSnapshot(t, 2, entries(5000))
	require.Greater(t, len(parts), 1, "5000 entries need several parts")
	res := applyAll(t, s, parts)
	assert.Equal(t, uint64(2), res.Version)
	wi, err := s.Whitelist(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(5000), wi.Badges)
	assert.Equal(t, protocol.GrantedBooking, tap(t, s, uidN(4999), t0, false).Reason)
	require.NoError(t, s.Check(ctx))
}
