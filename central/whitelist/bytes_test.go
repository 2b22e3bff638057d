package whitelist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestSignedMessagesAsBefore replays 400 random changes, ticks and door
// moves over a network whose doors share audiences, and asks every door's
// sync from several versions after each step (13,751 answers: deltas,
// snapshots, up to date). The digest of every answer's messages is the one
// the per-door compiler gave (commit aab6784, before audiences): sharing the
// compile changed no byte a door receives.
func TestSignedMessagesAsBefore(t *testing.T) {
	ctx := context.Background()
	in := world()
	in.Doors = append(in.Doors,
		domain.Door{ID: "d1x", CenterID: "c1", Name: "Exit", Exit: true},
		domain.Door{ID: "d1r1b", CenterID: "c1", Name: "Room 1 back", RoomID: "r1"},
		domain.Door{ID: "d1r2", CenterID: "c1", Name: "Room 2", RoomID: "r2"},
	)
	states := newMemStates()
	c, err := New(ctx, Config{Signer: protocol.NewSigner(testKey), States: states, Logger: quietLogger(), MaxLogDeltas: 6}, in, t0)
	if err != nil {
		t.Fatal(err)
	}
	out := sha256.New()
	r := rand.New(rand.NewPCG(9, 9))
	now := t0
	doors := []string{"d1", "d1x", "d1r1", "d1r1b", "d1r2", "d2"}
	for step := range 400 {
		member := fmt.Sprintf("m%02d", r.IntN(8))
		var ch domain.Change
		center := []string{"c1", "c2"}[r.IntN(2)]
		switch r.IntN(8) {
		case 0:
			ch = domain.Change{Kind: domain.KindMember, Member: &domain.Member{ID: member, Name: member, Status: []string{domain.MemberActive, domain.MemberSuspended}[r.IntN(2)]}}
		case 1:
			ch = domain.Change{Kind: domain.KindBadge, Badge: &domain.Badge{UID: protocol.UID(fmt.Sprintf("5%07X", r.IntN(10))), MemberID: member, Revoked: r.IntN(4) == 0}}
		case 2, 3:
			room := []string{"", "r1", "r2"}[r.IntN(3)]
			start := now.Add(time.Duration(r.IntN(20*24)-5) * time.Hour)
			ch = domain.Change{Kind: domain.KindBooking, Booking: &domain.Booking{ID: fmt.Sprintf("bk%d", r.IntN(15)), MemberID: member, CenterID: center, RoomID: room,
				Start: start, End: start.Add(time.Hour), Status: domain.BookingConfirmed}}
		case 4:
			p := &domain.Pass{ID: fmt.Sprintf("p%d", r.IntN(4)), MemberID: member, ValidFrom: now, ValidUntil: now.Add(time.Duration(1+r.IntN(72)) * time.Hour)}
			if r.IntN(2) == 0 {
				p.CenterIDs = []string{center}
			}
			ch = domain.Change{Kind: domain.KindPass, Pass: p}
		case 5:
			ch = domain.Change{Kind: domain.KindStaff, Deleted: r.IntN(2) == 0, Staff: &domain.Staff{MemberID: member, CenterID: center}}
		case 6:
			d := domain.Door{ID: doors[r.IntN(len(doors))], CenterID: center, Name: "moved"}
			if r.IntN(2) == 0 && center == "c1" {
				d.RoomID = []string{"r1", "r2"}[r.IntN(2)]
			}
			ch = domain.Change{Kind: domain.KindDoor, Door: &d}
		default:
			now = now.Add(time.Duration(r.IntN(20*60)) * time.Minute)
			if err := c.Tick(ctx, now); err != nil {
				t.Fatal(err)
			}
		}
		if ch.Kind != "" {
			if err := c.Apply(ctx, ch); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range doors {
			v, _ := c.Version(id)
			for _, from := range []uint64{0, v, v - 1, v - 2, v - 5, v - 8} {
				if from > v {
					continue
				}
				s, err := c.ForSync(ctx, id, from)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				for _, m := range s.Messages {
					h.Write(m)
				}
				fmt.Fprintf(out, "%d %s %d %d %s %d %x\n", step, id, from, s.Version, s.Kind, len(s.Messages), h.Sum(nil)[:8])
			}
		}
	}
	assert.Equal(t, "d63f70da579553d06a01e1c5b63b4e70106601adfb64203bfc14393d64bd2d2e", hex.EncodeToString(out.Sum(nil)))
}
