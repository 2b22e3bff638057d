package whitelist

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// bigDoor is the benchmark's door: one entrance with 100,000 badges, 20,000
// of them on bookings in the horizon and 80,000 on passes.
func bigDoor() Input {
	const members, bookings = 100_000, 20_000
	in := Input{
		Centers: []domain.Center{{ID: "c1", Name: "Center 1", TimeZone: "Europe/Brussels"}},
		Doors:   []domain.Door{{ID: "d1", CenterID: "c1", Name: "Entrance"}},
	}
	in.Members = make([]domain.Member, 0, members)
	in.Badges = make([]domain.Badge, 0, members)
	for i := range members {
		id := fmt.Sprintf("m%06d", i)
		in.Members = append(in.Members, domain.Member{ID: id, Name: id, Status: domain.MemberActive})
		in.Badges = append(in.Badges, domain.Badge{UID: protocol.UID(fmt.Sprintf("04%012X", i)), MemberID: id})
		if i < bookings {
			start := t0.Add(time.Duration(i%(13*24)) * time.Hour)
			in.Bookings = append(in.Bookings, domain.Booking{ID: fmt.Sprintf("bk%06d", i), MemberID: id, CenterID: "c1",
				Start: start, End: start.Add(4 * time.Hour), Status: domain.BookingConfirmed})
		} else {
			in.Passes = append(in.Passes, domain.Pass{ID: fmt.Sprintf("p%06d", i), MemberID: id,
				ValidFrom: t0.Add(-24 * time.Hour), ValidUntil: t0.Add(60 * 24 * time.Hour), CenterIDs: []string{"c1"}})
		}
	}
	return in
}

// BenchmarkSnapshot100k compiles the 100k-badge door from a full load and
// signs its snapshot: the cost of a restart, or of a door asking from 0.
func BenchmarkSnapshot100k(b *testing.B) {
	ctx := context.Background()
	in := bigDoor()
	signer := protocol.NewSigner(testKey)
	var s Sync
	for b.Loop() {
		c, err := New(ctx, Config{Signer: signer, States: newMemStates(), Logger: quietLogger()}, in, t0)
		if err != nil {
			b.Fatal(err)
		}
		s, err = c.ForSync(ctx, "d1", 0)
		if err != nil {
			b.Fatal(err)
		}
	}
	if s.Entries != 100_000 {
		b.Fatalf("%d entries", s.Entries)
	}
	size := 0
	for _, m := range s.Messages {
		size += len(m)
	}
	b.ReportMetric(float64(s.Entries), "entries/op")
	b.ReportMetric(float64(len(s.Messages)), "parts/op")
	b.ReportMetric(float64(size), "wire-bytes/op")
}

// BenchmarkSnapshotSign100k signs the snapshot of the compiled door only
// (sort, encode and sign, no compile): the first door of an audience asking
// from 0 for a version, or asking again once SnapshotMaxAge passed.
func BenchmarkSnapshotSign100k(b *testing.B) {
	benchSnapshotSign(b, true)
}

// BenchmarkSnapshotSignShared100k signs the snapshot for a door whose
// audience already encoded this version's entries: every further door of
// the audience (header and signature only).
func BenchmarkSnapshotSignShared100k(b *testing.B) {
	benchSnapshotSign(b, false)
}

func benchSnapshotSign(b *testing.B, encode bool) {
	ctx := context.Background()
	c, err := New(ctx, Config{Signer: protocol.NewSigner(testKey), States: newMemStates(), Logger: quietLogger()}, bigDoor(), t0)
	if err != nil {
		b.Fatal(err)
	}
	var s Sync
	for b.Loop() {
		c.mu.Lock()
		d := c.doors["d1"]
		d.snapVersion = 0
		if encode {
			d.aud.encoded = nil
		}
		s, err = c.snapshotLocked(d)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(s.Entries), "entries/op")
	b.ReportMetric(float64(len(s.Messages)), "parts/op")
}

// BenchmarkOneBookingDelta changes one booking at the 100k-badge door and
// builds the signed delta a door receives: Apply (recompute one member,
// save the state, notify) plus ForSync from the previous version.
func BenchmarkOneBookingDelta(b *testing.B) {
	ctx := context.Background()
	states := newMemStates()
	c, err := New(ctx, Config{Signer: protocol.NewSigner(testKey), States: states, Logger: quietLogger()}, bigDoor(), t0)
	if err != nil {
		b.Fatal(err)
	}
	bk := domain.Booking{ID: "bk000042", MemberID: "m000042", CenterID: "c1", Start: t0.Add(time.Hour), Status: domain.BookingConfirmed}
	recomputes := c.met.recomputes.Value()
	var entries, n int
	for b.Loop() {
		bk.End = bk.Start.Add(time.Duration(2+n%2) * time.Hour) // a different end each time
		if err := c.Apply(ctx, domain.Change{Kind: domain.KindBooking, Booking: &bk}); err != nil {
			b.Fatal(err)
		}
		v, _ := c.Version("d1")
		s, err := c.ForSync(ctx, "d1", v-1)
		if err != nil {
			b.Fatal(err)
		}
		if s.Kind != protocol.Delta || len(s.Messages) != 1 {
			b.Fatalf("want one delta, got %s with %d messages", s.Kind, len(s.Messages))
		}
		entries += s.Entries + s.Removed
		n++
	}
	b.ReportMetric(float64(entries)/float64(n), "entries/op")
	b.ReportMetric(float64(c.met.recomputes.Value()-recomputes)/float64(n), "recomputes/op")
}
