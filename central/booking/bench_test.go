package booking_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Issue 15's network: 30 centers, 800 desks, 80 rooms, 100,000 bookings in
// the month (March 2026), 1,000 members.
const (
	benchCenters  = 30
	benchDesks    = 800
	benchRooms    = 80
	benchBookings = 100_000
	benchMembers  = 1000
)

// seedNetwork fills st with the benchmark network: every room booked
// hourly from 08:00 to 16:00 every day, and desk bookings of one to four
// hours spread over the centers and days for the rest.
func seedNetwork(tb testing.TB, st store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(15, 15))
	for i := range benchCenters {
		c := fmt.Sprintf("c%02d", i)
		require.NoError(tb, st.CreateCenter(ctx, domain.Center{ID: c, Name: "Center " + c, TimeZone: "Europe/Brussels", Hours: weekdays(8, 18)}))
		desks := benchDesks / benchCenters
		if i < benchDesks%benchCenters {
			desks++
		}
		defer func() { // after the import, which would refuse the random desk bookings over capacity
			require.NoError(tb, st.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: c, Capacity: desks}))
		}()
	}
	for i := range benchRooms {
		require.NoError(tb, st.CreateRoom(ctx, domain.Room{ID: fmt.Sprintf("r%02d", i), CenterID: fmt.Sprintf("c%02d", i%benchCenters),
			Name: "Room", Capacity: 4 + i%8}))
	}
	for i := range benchMembers {
		require.NoError(tb, st.CreateMember(ctx, domain.Member{ID: fmt.Sprintf("m%04d", i), Name: "M", Status: domain.MemberActive}))
	}
	var bs []domain.Booking
	add := func(center, room string, start time.Time, hours int) {
		bs = append(bs, domain.Booking{ID: fmt.Sprintf("b%06d", len(bs)), MemberID: fmt.Sprintf("m%04d", rng.IntN(benchMembers)),
			CenterID: center, RoomID: room, Start: start, End: start.Add(time.Duration(hours) * time.Hour), Status: domain.BookingConfirmed})
	}
	for day := range 31 {
		for i := range benchRooms {
			for h := 8; h < 16; h++ {
				add(fmt.Sprintf("c%02d", i%benchCenters), fmt.Sprintf("r%02d", i), time.Date(2026, 3, 1+day, h, 0, 0, 0, brussels), 1)
			}
		}
	}
	for len(bs) < benchBookings {
		day, h := rng.IntN(31), 8+rng.IntN(7)
		add(fmt.Sprintf("c%02d", rng.IntN(benchCenters)), "", time.Date(2026, 3, 1+day, h, 0, 0, 0, brussels), 1+rng.IntN(4))
	}
	for len(bs) > 0 {
		n := min(len(bs), 10_000)
		_, err := st.ImportBookings(ctx, bs[:n])
		require.NoError(tb, err)
		bs = bs[n:]
	}
}

// BenchmarkAvailability measures the two availability queries of the
// booking site on SQLite, in ms/query: where one can work on a Tuesday
// 09:00–17:00 across the network, and a center's week view.
func BenchmarkAvailability(b *testing.B) {
	st := backends[0].open(b, store.Options{})
	seedNetwork(b, st)
	svc := booking.New(st, booking.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	b.Run("network-day", func(b *testing.B) {
		q := booking.Query{Start: time.Date(2026, 3, 17, 9, 0, 0, 0, brussels), End: time.Date(2026, 3, 17, 17, 0, 0, 0, brussels)}
		for b.Loop() {
			res, err := svc.Availability(ctx, q)
			if err != nil || len(res) != benchCenters {
				b.Fatalf("availability: %d centers, %v", len(res), err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/query")
	})
	b.Run("center-week", func(b *testing.B) {
		for b.Loop() {
			w, err := svc.Week(ctx, "c07", time.Date(2026, 3, 16, 12, 0, 0, 0, brussels))
			if err != nil || len(w.Days) != 7 {
				b.Fatalf("week: %v", err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/query")
	})
}

// BenchmarkBookingContention sends 1,000 members' bookings at once for the
// same Monday 09:00–17:00 at a center of 100 desks on SQLite (issue 15:
// no overbooking, p99 response ≤ 500 ms); it reports the response times'
// p50-ms and p99-ms and checks exactly 100 bookings were made.
func BenchmarkBookingContention(b *testing.B) {
	const members, desks = 1000, 100
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		st := backends[0].open(b, store.Options{})
		require.NoError(b, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "C1", TimeZone: "Europe/Brussels", Hours: weekdays(8, 18)}))
		require.NoError(b, st.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: desks}))
		for i := range members {
			require.NoError(b, st.CreateMember(ctx, domain.Member{ID: fmt.Sprintf("m%04d", i), Name: "M", Status: domain.MemberActive}))
		}
		svc := booking.New(st, booking.Options{Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		start := make(chan struct{})
		var wg sync.WaitGroup
		times := make([]time.Duration, members)
		errs := make([]error, members)
		for i := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				t0 := time.Now()
				_, errs[i] = svc.Book(ctx, booking.Request{MemberID: fmt.Sprintf("m%04d", i), CenterID: "c1", Start: at(7, 9, 0), End: at(7, 17, 0)})
				times[i] = time.Since(t0)
			}()
		}
		b.StartTimer()
		close(start)
		wg.Wait()
		b.StopTimer()
		made := 0
		for _, err := range errs {
			var be *booking.Error
			switch {
			case err == nil:
				made++
			case !errors.As(err, &be) || be.Code != booking.CodeNoDesks:
				b.Fatalf("unexpected error: %v", err)
			}
		}
		if made != desks {
			b.Fatalf("%d bookings made for %d desks", made, desks)
		}
		lat = append(lat, times...)
		b.StartTimer()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkFollowerCheckIn measures the check-in follower on SQLite in
// taps/s: 10,000 granted taps of 2,000 members at 20 doors of one center,
// in commits of 200 taps, where 1,000 members hold a booking of the day
// (so most taps are of a booking already checked in, as in a real day: a
// member taps at every door on the way in and out). In "network", 19,000
// other members hold a booking of the day at the center too and never tap
// (the fleet's 20,000 bookings a day, which the taps' members are a small
// part of).
func BenchmarkFollowerCheckIn(b *testing.B) {
	for _, bc := range []struct {
		name   string
		others int
	}{{"booked", 0}, {"network", 19_000}} {
		b.Run(bc.name, func(b *testing.B) { benchFollowerCheckIn(b, bc.others) })
	}
}

func benchFollowerCheckIn(b *testing.B, others int) {
	const doors, members, booked, taps, perCommit = 20, 2000, 1000, 10_000, 200
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rng := rand.New(rand.NewPCG(7, 7))
	type commit struct {
		ms      int64
		batches []ingest.Batch
	}
	var commits []commit
	for c := range taps / perCommit {
		byDoor := map[string][]protocol.Event{}
		for i := range perCommit {
			d := fmt.Sprintf("d%02d", rng.IntN(doors))
			seq := uint64(len(byDoor[d]) + 1 + c*perCommit)
			t := at(0, 8, 50).Add(time.Duration(rng.IntN(8*3600)) * time.Second)
			byDoor[d] = append(byDoor[d], tap(seq, fmt.Sprintf("m%04d", (c*perCommit+i)%members), protocol.GrantedBooking, t))
		}
		var bs []ingest.Batch
		for d, evs := range byDoor {
			bs = append(bs, ingest.Batch{Door: d, Events: evs})
		}
		commits = append(commits, commit{ms: now.Add(time.Duration(c) * time.Second).UnixMilli(), batches: bs})
	}
	var checkedIn int
	for b.Loop() {
		b.StopTimer()
		st := backends[0].open(b, store.Options{})
		require.NoError(b, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "C1", TimeZone: "Europe/Brussels", Hours: weekdays(8, 18)}))
		for i := range doors {
			require.NoError(b, st.CreateDoor(ctx, domain.Door{ID: fmt.Sprintf("d%02d", i), CenterID: "c1", Name: "Door"}))
		}
		var bks []domain.Booking
		for i := range members {
			require.NoError(b, st.CreateMember(ctx, domain.Member{ID: fmt.Sprintf("m%04d", i), Name: "M", Status: domain.MemberActive}))
			if i < booked {
				bks = append(bks, domain.Booking{ID: fmt.Sprintf("b%04d", i), MemberID: fmt.Sprintf("m%04d", i), CenterID: "c1",
					Start: at(0, 9, 0), End: at(0, 17, 0), Status: domain.BookingConfirmed})
			}
		}
		var bundle store.Bundle
		for i := range others {
			m := fmt.Sprintf("o%05d", i)
			bundle.Members = append(bundle.Members, domain.Member{ID: m, Name: "O", Status: domain.MemberActive})
			bks = append(bks, domain.Booking{ID: fmt.Sprintf("q%05d", i), MemberID: m, CenterID: "c1",
				Start: at(0, 8, 0), End: at(0, 18, 0), Status: domain.BookingConfirmed})
		}
		if others > 0 {
			_, err := st.Import(ctx, bundle, store.ImportOptions{})
			require.NoError(b, err)
		}
		_, err := st.ImportBookings(ctx, bks)
		require.NoError(b, err)
		bks = bks[:booked]
		svc := booking.New(st, booking.Options{Now: func() time.Time { return now }, Logger: quiet})
		f := booking.NewFollower(svc, booking.FollowerOptions{})
		b.StartTimer()
		for _, c := range commits {
			f.Committed(c.ms, c.batches)
		}
		f.Drain(ctx)
		b.StopTimer()
		ids := make([]string, len(bks))
		for i, bk := range bks {
			ids[i] = bk.ID
		}
		ins, err := svc.CheckIns(ctx, ids)
		require.NoError(b, err)
		checkedIn = len(ins)
		b.StartTimer()
	}
	if checkedIn != booked {
		b.Fatalf("%d of %d bookings checked in", checkedIn, booked)
	}
	b.ReportMetric(float64(taps)*float64(b.N)/b.Elapsed().Seconds(), "taps/s")
}
