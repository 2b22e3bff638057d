package booking_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/whitelist"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestBookingReachesTheDoor books a desk and a room through the service and
// checks, through the store's change feed, that the whitelist compiler
// gives the member's badge a booking grant at the entrance door and at the
// room's door, sent to the doors as deltas; cancelling takes them away.
func TestBookingReachesTheDoor(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			feed := &store.Feed{}
			st := be.open(t, store.Options{Notify: feed.Notify})
			svc := seed(t, st, 1)
			require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "front", CenterID: "c1", Name: "Front"}))
			require.NoError(t, st.CreateDoor(ctx, domain.Door{ID: "big", CenterID: "c1", Name: "Big room", RoomID: "r1"}))
			uid := protocol.UID("04A1B2C3D4E5F6")
			require.NoError(t, st.CreateBadge(ctx, domain.Badge{UID: uid, MemberID: "m1"}))

			in := whitelist.Input{}
			var err error
			in.Centers, err = store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
				return st.ListCenters(ctx, store.CenterFilter{PageRequest: p})
			})
			require.NoError(t, err)
			in.Rooms, err = store.All(ctx, func(p store.PageRequest) (store.Page[domain.Room], error) {
				return st.ListRooms(ctx, store.RoomFilter{PageRequest: p})
			})
			require.NoError(t, err)
			in.Doors, err = store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
				return st.ListDoors(ctx, store.DoorFilter{PageRequest: p})
			})
			require.NoError(t, err)
			in.Members, err = store.All(ctx, func(p store.PageRequest) (store.Page[domain.Member], error) {
				return st.ListMembers(ctx, store.MemberFilter{PageRequest: p})
			})
			require.NoError(t, err)
			in.Badges = []domain.Badge{{UID: uid, MemberID: "m1"}}
			signer := protocol.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
			wl, err := whitelist.New(ctx, whitelist.Config{Signer: signer, States: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, in, now)
			require.NoError(t, err)
			feed.Subscribe(func(ctx context.Context, ch domain.Change) { require.NoError(t, wl.Apply(ctx, ch)) })

			grants := func(door string) []protocol.Grant {
				entries, _, err := wl.Entries(door)
				require.NoError(t, err)
				for _, e := range entries {
					if e.UID == uid {
						return e.Grants
					}
				}
				return nil
			}
			require.Empty(t, grants("front"), "no booking yet")
			v0, _ := wl.Version("front")
			r0, _ := wl.Version("big")

			desk, err := svc.Book(ctx, booking.Request{MemberID: "m1", CenterID: "c1", Start: at(1, 9, 0), End: at(1, 12, 0)})
			require.NoError(t, err)
			room, err := svc.Book(ctx, booking.Request{MemberID: "m1", CenterID: "c1", RoomID: "r1", People: 4, Start: at(1, 13, 0), End: at(1, 15, 0)})
			require.NoError(t, err)

			refs := func(gs []protocol.Grant) map[string]string {
				out := map[string]string{}
				for _, g := range gs {
					require.Equal(t, protocol.GrantBooking, g.Kind)
					out[g.Ref] = g.Room
				}
				return out
			}
			require.Equal(t, map[string]string{desk.ID: "", room.ID: "r1"}, refs(grants("front")))
			// A room's door holds the member's grants at the center; the door
			// lets in only a grant naming its room (PRODUCT.md 4.1).
			require.Equal(t, map[string]string{desk.ID: "", room.ID: "r1"}, refs(grants("big")))
			for door, from := range map[string]uint64{"front": v0, "big": r0} {
				sync, err := wl.ForSync(ctx, door, from)
				require.NoError(t, err)
				require.Equal(t, protocol.Delta, sync.Kind, "door %s gets a delta", door)
				require.Equal(t, 1, sync.Entries, "door %s: the badge's entry", door)
			}

			v1, _ := wl.Version("front")
			_, err = svc.Cancel(ctx, "m1", desk.ID)
			require.NoError(t, err)
			require.Equal(t, map[string]string{room.ID: "r1"}, refs(grants("front")), "the cancelled desk is gone")
			sync, err := wl.ForSync(ctx, "front", v1)
			require.NoError(t, err)
			require.Equal(t, protocol.Delta, sync.Kind)
		})
	}
}
