package credit_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests never depend on the machine's zoneinfo

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The test network: three centers in Brussels.
//
//	ctr-a: open 08:00–18:00 Monday to Saturday, closed Sunday; doors a-in,
//	       a-out (exit), a-room (room r1).
//	ctr-b: open 07:00–22:00 every day; doors b-in, b-out (exit).
//	ctr-n: open around the clock; doors n-in, n-out (exit).
//
// Members: nomad (nomadic, pass everywhere), booker (nomadic, no pass),
// local (home ctr-a, pass everywhere), staffer (nomadic, no pass).
var brussels = mustLoc("Europe/Brussels")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func everyDay(open, close int) domain.OpeningHours {
	var h domain.OpeningHours
	for d := range h {
		h[d] = []domain.Span{{Open: open, Close: close}}
	}
	return h
}

func testCenters() []domain.Center {
	a := everyDay(8*60, 18*60)
	a[time.Sunday] = nil
	return []domain.Center{
		{ID: "ctr-a", Name: "A", TimeZone: "Europe/Brussels", Hours: a},
		{ID: "ctr-b", Name: "B", TimeZone: "Europe/Brussels", Hours: everyDay(7*60, 22*60), RateCents: 1200},
		{ID: "ctr-n", Name: "N", TimeZone: "Europe/Brussels", Hours: everyDay(0, 1440)},
	}
}

func testDoors() []domain.Door {
	return []domain.Door{
		{ID: "a-in", CenterID: "ctr-a", Name: "A entrance"},
		{ID: "a-out", CenterID: "ctr-a", Name: "A exit", Exit: true},
		{ID: "a-room", CenterID: "ctr-a", Name: "A room 1", RoomID: "r1"},
		{ID: "b-in", CenterID: "ctr-b", Name: "B entrance"},
		{ID: "b-out", CenterID: "ctr-b", Name: "B exit", Exit: true},
		{ID: "n-in", CenterID: "ctr-n", Name: "N entrance"},
		{ID: "n-out", CenterID: "ctr-n", Name: "N exit", Exit: true},
	}
}

func testMembers() []domain.Member {
	return []domain.Member{
		{ID: "nomad", Name: "Nomad", Status: domain.MemberActive},
		{ID: "booker", Name: "Booker", Status: domain.MemberActive},
		{ID: "local", Name: "Local", HomeCenterID: "ctr-a", Status: domain.MemberActive},
		{ID: "staffer", Name: "Staffer", Status: domain.MemberActive},
	}
}

func testPasses() []domain.Pass {
	from, until := at("2026-01-01 00:00"), at("2027-12-31 00:00")
	return []domain.Pass{
		{ID: "p-nomad", MemberID: "nomad", ValidFrom: from, ValidUntil: until},
		{ID: "p-local", MemberID: "local", ValidFrom: from, ValidUntil: until},
	}
}

// at parses "2006-01-02 15:04" (or with seconds) in Brussels.
func at(s string) time.Time {
	layout := "2006-01-02 15:04"
	if strings.Count(s, ":") == 2 {
		layout = "2006-01-02 15:04:05.000"
	}
	t, err := time.ParseInLocation(layout, s, brussels)
	if err != nil {
		panic(err)
	}
	return t
}

func booking(id, member, center, start, end string) domain.Booking {
	return domain.Booking{ID: id, MemberID: member, CenterID: center, Start: at(start), End: at(end), Status: domain.BookingConfirmed}
}

func withStatus(b domain.Booking, status string) domain.Booking {
	b.Status = status
	return b
}

// events builds door events with per-door sequence numbers, received one
// minute after they happened unless said otherwise.
type events struct {
	seq map[string]uint64
	evs []domain.Event
}

func (es *events) tap(door, member string, reason protocol.Reason, when string, opts ...func(*domain.Event)) *events {
	if es.seq == nil {
		es.seq = map[string]uint64{}
	}
	es.seq[door]++
	t := at(when)
	ev := domain.Event{Door: door, ReceivedMs: t.Add(time.Minute).UnixMilli(), Event: protocol.Event{
		Seq: es.seq[door], TimeMs: t.UnixMilli(), Trusted: true, Boot: "boot-1", Kind: protocol.EventTap,
		UID: "04A1B2C3", Member: member, Reason: reason, WLVersion: 1,
	}}
	for _, o := range opts {
		o(&ev)
	}
	es.evs = append(es.evs, ev)
	return es
}

// in is a granted pass entry; out an exit tap.
func (es *events) in(door, member, when string) *events {
	return es.tap(door, member, protocol.GrantedPass, when)
}

func (es *events) out(door, member, when string) *events {
	return es.tap(door, member, protocol.GrantedPass, when)
}

func untrusted(receivedAfter time.Duration) func(*domain.Event) {
	return func(ev *domain.Event) {
		ev.Trusted = false
		ev.ReceivedMs = ev.TimeMs + receivedAfter.Milliseconds()
	}
}

func receivedAt(when string) func(*domain.Event) {
	return func(ev *domain.Event) { ev.ReceivedMs = at(when).UnixMilli() }
}

func testConfig(t testing.TB) credit.Config {
	t.Helper()
	cfg, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	return cfg
}

func testDir(bookings ...domain.Booking) *credit.Directory {
	return credit.NewDirectory(testCenters(), testDoors(), testMembers(), bookings, testPasses())
}

// show renders a visit compactly in Brussels time for table tests:
// "ctr-a 11-10 09:00→13:00 walk_in nomadic 240" or, for a record,
// "ctr-a 11-10 09:00→12:00 booking nomadic no_show".
func show(v credit.Visit) string {
	s := fmt.Sprintf("%s %s→%s %s %s", v.CenterID, v.Start.In(brussels).Format("01-02 15:04"),
		v.End.In(brussels).Format("15:04"), v.Source, v.Class)
	if v.Credited {
		s += fmt.Sprintf(" %d", v.CreditedMinutes)
	} else {
		s += " " + string(v.Why)
	}
	if v.NoShow {
		s += " +no_show"
	}
	if v.UntrustedClock {
		s += " +untrusted"
	}
	return s
}

func showAll(vs []credit.Visit) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, show(v))
	}
	return out
}
