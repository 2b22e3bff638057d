package whitelist

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestApplyAllCommitsOnce: the changes of a bulk import are applied
// together: a new door and the member, badge and pass that give a right
// there make one version of that door, not one per change, with the same
// content as when applied one by one; an invalid change among them is
// refused and the others kept.
func TestApplyAllCommitsOnce(t *testing.T) {
	hal := domain.Member{ID: "hal", Name: "Hal", Status: domain.MemberActive}
	badge := domain.Badge{UID: "0F000001", MemberID: "hal"}
	pass := domain.Pass{ID: "p-hal", MemberID: "hal", ValidFrom: t0, ValidUntil: t0.Add(48 * time.Hour), CenterIDs: []string{"c3"}}
	chs := []domain.Change{
		{Kind: domain.KindCenter, Center: &domain.Center{ID: "c3", Name: "Center 3", TimeZone: "Europe/Brussels"}},
		{Kind: domain.KindDoor, Door: &domain.Door{ID: "d3", CenterID: "c3", Name: "Entrance"}},
		{Kind: domain.KindDoor, Door: &domain.Door{ID: "d3b", CenterID: "c3", Name: "Back"}},
		{Kind: domain.KindMember, Member: &hal},
		{Kind: domain.KindBadge, Badge: &badge},
		{Kind: domain.KindPass, Pass: &pass},
	}

	one := newFixture(t, world())
	for _, ch := range chs {
		one.apply(ch)
	}
	all := newFixture(t, world())
	saves := all.states.saves
	bad := domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: "lower", MemberID: "hal"}}
	err := all.c.ApplyAll(context.Background(), append(chs, bad))
	require.ErrorIs(t, err, ErrInvalidChange)

	require.Equal(t, uint64(1), all.version("d3"), "one version for the whole import")
	require.Equal(t, uint64(1), all.version("d3b"))
	require.Greater(t, one.version("d3"), uint64(1), "one by one, the door's first version is followed by the pass's")
	require.Equal(t, 2, all.states.saves-saves, "the two new doors are saved once each, the others not at all")
	for _, d := range []string{"d3", "d3b"} {
		got, _, err := all.c.Entries(d)
		require.NoError(t, err)
		want, _, err := one.c.Entries(d)
		require.NoError(t, err)
		require.Equal(t, want, got, d)
		uids := []protocol.UID{}
		for _, e := range got {
			uids = append(uids, e.UID)
		}
		require.Contains(t, uids, protocol.UID("0F000001"), "%s lists hal by the pass (beside the network's pass and staff)", d)
	}
	for _, d := range []string{"d1", "d1r1", "d2"} {
		require.Equal(t, uint64(1), all.version(d), "%s is not concerned", d)
	}
}
