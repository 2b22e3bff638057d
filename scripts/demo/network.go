package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The demo network: three centers, six doors, twenty members. The badges the
// printed instructions use are named here so that the test taps the same.
const (
	badgeGranted = "04A10001" // Nora, nomadic, a desk booked in Brussels now
	badgeRoom    = "04A10002" // Milan, nomadic, the Atlas meeting room booked now
	badgeLater   = "04A10003" // Leo, nomadic, a desk in Brussels later today
	badgeLocal   = "04B10001" // Lotte, local member of Ghent with a monthly pass
	badgeStaff   = "04C10001" // Ana, staff of Brussels
	badgeRevoked = "04D10001" // a lost badge of Omar, revoked
	badgeUnknown = "04FFEE01" // nobody's badge
)

// demoDoor is one door of the network with the badge that shows it best.
type demoDoor struct {
	domain.Door
	hint string // what to try there
}

type demoNetwork struct {
	centers  []domain.Center
	rooms    []domain.Room
	doors    []demoDoor
	members  []domain.Member
	badges   []domain.Badge
	staff    []domain.Staff
	bookings []domain.Booking
	passes   []domain.Pass
}

// span is an open span from hh:mm to hh:mm.
func span(fromH, fromM, toH, toM int) domain.Span {
	return domain.Span{Open: fromH*60 + fromM, Close: toH*60 + toM}
}

// weekdays is Monday to Friday open from..to, Saturday morning, Sunday shut.
func weekdays(s domain.Span) domain.OpeningHours {
	var h domain.OpeningHours
	for d := time.Monday; d <= time.Friday; d++ {
		h[d] = []domain.Span{s}
	}
	h[time.Saturday] = []domain.Span{span(9, 0, 13, 0)}
	return h
}

// network builds the demo's data around now: bookings of today cover the
// moment the demo starts, whatever the hour, so that it works at night too.
func network(now time.Time) demoNetwork {
	var n demoNetwork
	var always domain.OpeningHours
	for d := range always {
		always[d] = []domain.Span{span(0, 0, 24, 0)}
	}
	n.centers = []domain.Center{
		{ID: "brussels", Name: "Brussels Central", TimeZone: "Europe/Brussels", Hours: weekdays(span(7, 0, 20, 0))},
		{ID: "ghent", Name: "Ghent Station (open around the clock)", TimeZone: "Europe/Brussels", Hours: always},
		{ID: "lisbon", Name: "Lisbon Riverside", TimeZone: "Europe/Lisbon", Hours: weekdays(span(8, 0, 19, 0)), RateCents: 800},
	}
	n.rooms = []domain.Room{{ID: "bru-atlas", CenterID: "brussels", Name: "Atlas meeting room"}}
	n.doors = []demoDoor{
		{domain.Door{ID: "bru-front", CenterID: "brussels", Name: "Brussels front door"}, "Nora's badge opens it (desk booking now); Leo's is refused until his booking starts"},
		{domain.Door{ID: "bru-exit", CenterID: "brussels", Name: "Brussels exit reader", Exit: true}, "tap out: the hours of a visit end here"},
		{domain.Door{ID: "bru-atlas", CenterID: "brussels", Name: "Atlas meeting room", RoomID: "bru-atlas"}, "Milan's badge opens it (room booking); Nora's desk booking does not"},
		{domain.Door{ID: "gnt-front", CenterID: "ghent", Name: "Ghent front door"}, "Lotte's badge opens it (local member, monthly pass)"},
		{domain.Door{ID: "gnt-garden", CenterID: "ghent", Name: "Ghent garden door"}, "cut it off the network and tap: it decides alone"},
		{domain.Door{ID: "lis-front", CenterID: "lisbon", Name: "Lisbon front door"}, "Paulo's badge opens it (booking in Lisbon's time zone)"},
	}

	member := func(id, name, home string) {
		n.members = append(n.members, domain.Member{ID: id, Name: name, Email: id + "@example.org", HomeCenterID: home, Status: domain.MemberActive})
	}
	badge := func(uid, member string, revoked bool) {
		n.badges = append(n.badges, domain.Badge{UID: protocol.UID(uid), MemberID: member, Revoked: revoked})
	}
	day := now.Truncate(time.Hour)
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	monthEnd := monthStart.AddDate(0, 1, 0)
	booking := func(id, member, center, room string, start, end time.Time) {
		n.bookings = append(n.bookings, domain.Booking{ID: id, MemberID: member, CenterID: center, RoomID: room, Start: start, End: end, Status: domain.BookingConfirmed})
	}

	// Staff.
	member("ana", "Ana Staff", "brussels")
	badge(badgeStaff, "ana", false)
	n.staff = append(n.staff, domain.Staff{MemberID: "ana", CenterID: "brussels"})
	member("kim", "Kim Network-Technician", "")
	badge("04C10002", "kim", false)
	n.staff = append(n.staff, domain.Staff{MemberID: "kim"}) // the whole network

	// Nomadic members: bookings now, later today, and earlier this month.
	member("nora", "Nora Nomad", "")
	badge(badgeGranted, "nora", false)
	booking("bk-nora-today", "nora", "brussels", "", day.Add(-time.Hour), day.Add(5*time.Hour))
	member("milan", "Milan Meeting", "")
	badge(badgeRoom, "milan", false)
	booking("bk-milan-atlas", "milan", "brussels", "bru-atlas", day.Add(-time.Hour), day.Add(2*time.Hour))
	member("leo", "Leo Later", "")
	badge(badgeLater, "leo", false)
	booking("bk-leo-later", "leo", "brussels", "", day.Add(4*time.Hour), day.Add(8*time.Hour))
	member("paulo", "Paulo Porto", "")
	badge("04A10004", "paulo", false)
	booking("bk-paulo-today", "paulo", "lisbon", "", day.Add(-2*time.Hour), day.Add(6*time.Hour))
	member("omar", "Omar Lost-Badge", "")
	badge(badgeRevoked, "omar", true)
	badge("04D10002", "omar", false)
	booking("bk-omar-today", "omar", "ghent", "", day.Add(-time.Hour), day.Add(6*time.Hour))
	member("greta", "Greta Globetrotter", "")
	badge("04A10005", "greta", false)
	n.passes = append(n.passes, domain.Pass{ID: "pass-greta", MemberID: "greta", ValidFrom: monthStart, ValidUntil: monthEnd}) // every center
	for i, c := range []string{"brussels", "ghent", "lisbon", "ghent"} {
		id := fmt.Sprintf("nomad-%d", i+1)
		member(id, fmt.Sprintf("Nomad %d", i+1), "")
		badge(fmt.Sprintf("04A200%02X", i+1), id, false)
		// A day earlier this month (or of last month on the 1st), and today.
		past := day.AddDate(0, 0, -(i%5)-1)
		booking("bk-"+id+"-past", id, c, "", past, past.Add(4*time.Hour))
		booking("bk-"+id+"-today", id, c, "", day.Add(-time.Hour), day.Add(3*time.Hour))
	}

	// Local members with a monthly pass of their home center.
	for i, c := range []string{"ghent", "ghent", "brussels", "brussels", "lisbon", "lisbon", "ghent"} {
		id, name := fmt.Sprintf("local-%d", i+1), fmt.Sprintf("Local member %d", i+1)
		if i == 0 {
			id, name = "lotte", "Lotte Local"
		}
		member(id, name, c)
		uid := fmt.Sprintf("04B100%02X", i+1)
		badge(uid, id, false)
		n.passes = append(n.passes, domain.Pass{ID: "pass-" + id, MemberID: id, ValidFrom: monthStart, ValidUntil: monthEnd, CenterIDs: []string{c}})
	}
	// Last month's desk bookings, invoiced at start (billing.go).
	n.bookings = append(n.bookings, lastMonthBookings(lastMonth(now), n.centers)...)

	// A suspended member keeps a badge that no door opens for.
	member("sven", "Sven Suspended", "ghent")
	n.members[len(n.members)-1].Status = domain.MemberSuspended
	badge("04E10001", "sven", false)
	return n
}

// seed creates the network through the API, as an operator's tools would.
func seed(ctx context.Context, c *launch.Central, n demoNetwork) error {
	type item struct {
		path string
		body any
	}
	var items []item
	for _, x := range n.centers {
		items = append(items, item{"/centers", x})
	}
	for _, x := range n.rooms {
		items = append(items, item{"/rooms", x})
	}
	for _, x := range n.doors {
		items = append(items, item{"/doors", x.Door})
	}
	for _, x := range n.members {
		items = append(items, item{"/members", x})
	}
	for _, x := range n.badges {
		items = append(items, item{"/badges", x})
	}
	for _, x := range n.staff {
		items = append(items, item{"/staff", x})
	}
	for _, x := range n.bookings {
		items = append(items, item{"/bookings", x})
	}
	for _, x := range n.passes {
		items = append(items, item{"/passes", x})
	}
	for _, it := range items {
		if err := c.API(ctx, http.MethodPost, it.path, it.body, nil); err != nil {
			return fmt.Errorf("seeding the demo network: %w", err)
		}
	}
	// Desks members can book on the booking site.
	for _, x := range n.centers {
		if err := c.API(ctx, http.MethodPut, "/centers/"+x.ID+"/desks", map[string]int{"capacity": 20}, nil); err != nil {
			return fmt.Errorf("seeding the demo network: desks of %s: %w", x.ID, err)
		}
	}
	return nil
}
