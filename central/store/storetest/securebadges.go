package storetest

import (
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// testSecureBadges: a badge's card type and key version (issue 17) are
// stored at creation, kept by UpdateBadge, set by SetBadgeCredential (with
// a change for the whitelists), and counted per home center; a center's
// require_secure_credentials policy is stored.
func testSecureBadges(e *env) {
	t, ctx, s := e.t, e.ctx, e.s
	e.seed()
	c, err := s.Center(ctx, "c1")
	require.NoError(t, err)
	require.False(t, c.RequireSecure)
	c.RequireSecure = true
	require.NoError(t, s.UpdateCenter(ctx, c))
	c, err = s.Center(ctx, "c1")
	require.NoError(t, err)
	require.True(t, c.RequireSecure)

	sec := domain.Badge{UID: "04A1B2C3D4E5F6", MemberID: "m1", Card: protocol.CardNTAG424DNA, KeyVersion: 1}
	require.NoError(t, s.CreateBadge(ctx, sec))
	got, err := s.Badge(ctx, sec.UID)
	require.NoError(t, err)
	require.Equal(t, sec, got)
	requireKind(t, s.CreateBadge(ctx, domain.Badge{UID: "0A000001", MemberID: "m1", Card: protocol.CardDESFireEV2}), domain.ErrValidation, "key_version")
	requireKind(t, s.CreateBadge(ctx, domain.Badge{UID: "0A000001", MemberID: "m1", Card: "classic"}), domain.ErrValidation, "card_type")
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "11223344", MemberID: "m1"}))
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "22334455", MemberID: "m2"}))
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "33445566", MemberID: "n1", Card: protocol.CardDESFireEV2, KeyVersion: 2}))
	require.NoError(t, s.CreateBadge(ctx, domain.Badge{UID: "44556677", MemberID: "m2", Revoked: true}))
	e.rec.take()

	// UpdateBadge (an old console that knows nothing of card types) keeps them.
	require.NoError(t, s.UpdateBadge(ctx, domain.Badge{UID: sec.UID, MemberID: "m2"}))
	got, err = s.Badge(ctx, sec.UID)
	require.NoError(t, err)
	require.Equal(t, domain.Badge{UID: sec.UID, MemberID: "m2", Card: protocol.CardNTAG424DNA, KeyVersion: 1}, got)
	changes := e.rec.take()
	require.Len(t, changes, 1)
	require.Equal(t, protocol.CardNTAG424DNA, changes[0].Badge.Card, "the change the whitelists get carries the kept card type")

	// A station re-keys it; another turns a UID-only badge into a secure one.
	require.NoError(t, s.SetBadgeCredential(ctx, sec.UID, protocol.CardNTAG424DNA, 2))
	require.NoError(t, s.SetBadgeCredential(ctx, "11223344", protocol.CardDESFireEV2, 2))
	changes = e.rec.take()
	require.Len(t, changes, 2)
	require.Equal(t, uint8(2), changes[1].Badge.KeyVersion)
	require.Equal(t, "m1", changes[1].Badge.MemberID)
	got, err = s.Badge(ctx, "11223344")
	require.NoError(t, err)
	require.Equal(t, domain.Badge{UID: "11223344", MemberID: "m1", Card: protocol.CardDESFireEV2, KeyVersion: 2}, got)
	requireKind(t, s.SetBadgeCredential(ctx, "99999999", protocol.CardDESFireEV2, 2), store.ErrNotFound, "")
	requireKind(t, s.SetBadgeCredential(ctx, "11223344", protocol.CardUIDOnly, 2), domain.ErrValidation, "key_version")
	// Back to UID-only (a card replaced by a plain one).
	require.NoError(t, s.SetBadgeCredential(ctx, "11223344", protocol.CardUIDOnly, 0))
	got, err = s.Badge(ctx, "11223344")
	require.NoError(t, err)
	require.Equal(t, domain.Badge{UID: "11223344", MemberID: "m1"}, got)

	// The door's NTAG 424 DNA read counter is stored with its events, so
	// that a re-delivered batch is a duplicate, not a conflict.
	tap := protocol.Event{Seq: 1, TimeMs: 1_772_000_000_000, Trusted: true, Boot: "b1", Kind: protocol.EventTap, UID: sec.UID, Member: "m2",
		Reason: protocol.DeniedAuthFailed, ReadCounter: 7, WLVersion: 3}
	alarm := tap
	alarm.Seq, alarm.Kind, alarm.Reason = 2, protocol.EventSuspectedClone, ""
	granted := tap
	granted.Seq, granted.Reason, granted.ReadCounter = 1, protocol.GrantedStaff, 8
	for i := 0; i < 2; i++ {
		res, err := s.AppendEvents(ctx, "d1", 1_772_000_000_500, []protocol.Event{tap, alarm})
		require.NoError(t, err, "delivery %d", i)
		require.Equal(t, 2*(1-i), res.New)
		rs, err := s.AppendBatches(ctx, 1_772_000_000_600, []store.DoorEvents{{Door: "d1", Store: "0123456789abcdef", Events: []protocol.Event{granted}}})
		require.NoError(t, err, "delivery %d", i)
		require.Equal(t, 1-i, rs[0].New)
	}
	pg, err := s.ListEvents(ctx, store.EventFilter{Door: "d1", UID: sec.UID})
	require.NoError(t, err)
	require.Len(t, pg.Items, 3)
	var ctrs []uint32
	var kinds []protocol.EventKind
	for _, ev := range pg.Items {
		ctrs, kinds = append(ctrs, ev.ReadCounter), append(kinds, ev.Kind)
	}
	require.ElementsMatch(t, []uint32{7, 7, 8}, ctrs)
	require.Contains(t, kinds, protocol.EventSuspectedClone)
	changed := tap
	changed.ReadCounter = 9
	_, err = s.AppendEvents(ctx, "d1", 1_772_000_000_700, []protocol.Event{changed})
	requireKind(t, err, store.ErrConflict, "")

	counts, err := s.CountBadgeCredentials(ctx)
	require.NoError(t, err)
	require.Equal(t, []store.BadgeCredentialCount{
		{Center: "", Secure: 1},
		{Center: "c1", UIDOnly: 1},
		{Center: "c2", Secure: 1, UIDOnly: 1}, // the revoked one is not counted
	}, counts)
}
