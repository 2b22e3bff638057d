package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// BenchmarkSeed measures how long the fleet takes to seed a network of
// doors (the fleet's default centers and members) into a running central:
// by bulk import (--seed-via import: the directory, the bookings, then the
// doors with their broker secrets), and for comparison through the API one
// object at a time (--seed-via api). It reports s/seed. 1,000 doors keep it
// within make bench's budget; the 10,000-door fleet reports its seeding as
// seed_s.
func BenchmarkSeed(b *testing.B) {
	root, err := launch.RepoRoot()
	require.NoError(b, err)
	bins, err := launch.Build(b.Context(), root, filepath.Join(b.TempDir(), "bin"))
	require.NoError(b, err)
	for _, run := range []struct {
		via   string
		doors int
	}{{seedImport, 1000}, {seedAPI, 1000}} {
		doors := run.doors
		b.Run("via="+run.via+"/doors="+strconv.Itoa(doors), func(b *testing.B) {
			o := defaultOptions()
			o.doors, o.seedVia = doors, run.via
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				tmp := b.TempDir()
				f := &fleet{o: o, log: log, tmp: tmp, bins: bins}
				require.NoError(b, os.MkdirAll(filepath.Join(tmp, "central"), 0o700))
				require.NoError(b, f.startServices(b.Context()))
				b.StartTimer()
				t0 := time.Now()
				n, err := seed(b.Context(), f.central, o, time.Now(), log)
				total += time.Since(t0)
				b.StopTimer()
				require.NoError(b, err)
				require.Len(b, n.doors, doors)
				f.central.Stop()
				b.StartTimer()
			}
			b.ReportMetric(total.Seconds()/float64(b.N), "s/seed")
		})
	}
}

// With --badges above --members the plan adds members with a badge and
// nothing else: the central holds every badge, the doors' lists (rights)
// and the taps' badges (all) stay those of the members with a booking.
func TestSeedPlanBadgeOnlyMembers(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name            string
		members, badges int
		wantMembers     int
	}{
		{name: "one badge per member", members: 500, badges: 0, wantMembers: 500},
		{name: "as many badges as members", members: 500, badges: 500, wantMembers: 500},
		{name: "badge-only members", members: 500, badges: 5000, wantMembers: 5000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _, baseBadges, basePasses, baseBookings := seedPlan(8, tt.members, 0, 10, now)
			n, centers, badges, passes, bookings := seedPlan(8, tt.members, tt.badges, 10, now)
			require.Len(t, centers, 8)
			require.Len(t, n.members, tt.wantMembers)
			require.Len(t, badges, tt.wantMembers, "one badge per member")
			assert.Equal(t, tt.members, n.booked)

			// Those with a booking are today's plan, unchanged.
			assert.Equal(t, base.members, n.members[:tt.members])
			assert.Equal(t, baseBadges, badges[:tt.members])
			assert.Equal(t, basePasses, passes)
			assert.Equal(t, baseBookings, bookings)
			assert.Equal(t, base.rights, n.rights)
			assert.Equal(t, base.all, n.all)
			assert.Len(t, bookings, tt.members)

			ids := map[string]bool{}
			for _, m := range n.members {
				assert.False(t, ids[m.ID], "member %s twice", m.ID)
				ids[m.ID] = true
			}
			uids := map[protocol.UID]string{}
			for i, b := range badges {
				require.NoError(t, b.UID.Validate(), b.UID)
				assert.Empty(t, uids[b.UID], "badge %s twice", b.UID)
				uids[b.UID] = b.MemberID
				assert.Equal(t, n.members[i].ID, b.MemberID, "badges[i] is members[i]'s")
			}
			// The badge-only members: no pass, no booking, on no door's
			// list, never tapped, and apart from unknownUID's badges.
			extra := map[string]bool{}
			for _, m := range n.members[tt.members:] {
				extra[m.ID] = true
				require.NoError(t, m.Validate())
			}
			for _, p := range passes {
				assert.False(t, extra[p.MemberID], "pass %s of a badge-only member", p.ID)
			}
			for _, b := range bookings {
				assert.False(t, extra[b.MemberID], "booking %s of a badge-only member", b.ID)
			}
			listed := map[protocol.UID]bool{}
			for _, us := range n.rights {
				for _, u := range us {
					listed[u] = true
				}
			}
			for _, u := range n.all {
				listed[u] = true
			}
			for _, b := range badges[tt.members:] {
				assert.False(t, listed[b.UID], "badge-only %s on a door's list or tapped", b.UID)
				assert.NotEqual(t, "EE", string(b.UID[:2]), "unknownUID's prefix")
			}
		})
	}
}
