package credit

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// Directory is the reference data the engine credits against: centers,
// doors, members, bookings and passes, validated and indexed. It is read
// only once built and safe for concurrent use.
//
// Records that fail validation or name something unknown are left out and
// listed by Problems, so that one bad record never blocks a settlement and
// never disappears unnoticed.
type Directory struct {
	centers   map[string]*centerInfo
	centerIDs []string
	doors     map[string]*doorInfo
	members   map[string]memberInfo
	bookings  map[string][]domain.Booking // by member: confirmed, sorted by start then id
	passes    map[string][]domain.Pass    // by member, sorted by valid_from then id
	problems  []Problem
}

// memberInfo is what crediting needs of a member, held by value: a
// network's directory holds every member (100,000 and more, most of them
// with neither booking nor pass), so it keeps no copy of the whole record
// (the email is never used here).
type memberInfo struct {
	name, home string
	suspended  bool // Validate admits active and suspended only
}

type centerInfo struct {
	domain.Center
	loc *time.Location
}

type doorInfo struct {
	domain.Door
	center *centerInfo
}

// Problem is a directory record left out, or kept with a caveat.
type Problem struct {
	Kind    domain.Kind `json:"kind"`
	ID      string      `json:"id"`
	Problem string      `json:"problem"`
}

// NewDirectory validates and indexes the reference data. Cancelled bookings
// are kept out silently: they are data, not errors.
func NewDirectory(centers []domain.Center, doors []domain.Door, members []domain.Member,
	bookings []domain.Booking, passes []domain.Pass) *Directory {
	return newDirectory(centers, doors, members, nil, bookings, passes)
}

// WithRecords is NewDirectory with the members of d (shared, with their
// problems) and the other records given: for a caller that knows that
// neither the members nor the centers (their home centers' checks) changed
// since d was built, and so need not read every member of the network
// again.
func (d *Directory) WithRecords(centers []domain.Center, doors []domain.Door,
	bookings []domain.Booking, passes []domain.Pass) *Directory {
	return newDirectory(centers, doors, nil, d, bookings, passes)
}

// newDirectory is NewDirectory, with the members of keep instead of
// members when keep is not nil.
func newDirectory(centers []domain.Center, doors []domain.Door, members []domain.Member, keep *Directory,
	bookings []domain.Booking, passes []domain.Pass) *Directory {
	d := &Directory{
		centers:  make(map[string]*centerInfo, len(centers)),
		doors:    make(map[string]*doorInfo, len(doors)),
		bookings: make(map[string][]domain.Booking),
		passes:   make(map[string][]domain.Pass),
	}
	if keep != nil {
		d.members = keep.members // read only once built
	} else {
		d.members = make(map[string]memberInfo, len(members))
	}
	problem := func(k domain.Kind, id, format string, args ...any) {
		d.problems = append(d.problems, Problem{Kind: k, ID: id, Problem: fmt.Sprintf(format, args...)})
	}
	for i := range centers {
		c := centers[i]
		if err := c.Validate(); err != nil {
			problem(domain.KindCenter, c.ID, "left out: %v", err)
			continue
		}
		if d.centers[c.ID] != nil {
			problem(domain.KindCenter, c.ID, "duplicate id; the first is kept")
			continue
		}
		loc, err := c.Location()
		if err != nil {
			problem(domain.KindCenter, c.ID, "left out: time zone: %v", err)
			continue
		}
		d.centers[c.ID] = &centerInfo{Center: c, loc: loc}
		d.centerIDs = append(d.centerIDs, c.ID)
	}
	slices.Sort(d.centerIDs)
	for i := range doors {
		dr := doors[i]
		switch err := dr.Validate(); {
		case err != nil:
			problem(domain.KindDoor, dr.ID, "left out: %v", err)
		case d.centers[dr.CenterID] == nil:
			problem(domain.KindDoor, dr.ID, "left out: unknown center %q", dr.CenterID)
		case d.doors[dr.ID] != nil:
			problem(domain.KindDoor, dr.ID, "duplicate id; the first is kept")
		default:
			d.doors[dr.ID] = &doorInfo{Door: dr, center: d.centers[dr.CenterID]}
		}
	}
	if keep != nil {
		for _, p := range keep.problems {
			if p.Kind == domain.KindMember {
				d.problems = append(d.problems, p)
			}
		}
	}
	for i := range members {
		m := &members[i]
		switch err := m.Validate(); {
		case err != nil:
			problem(domain.KindMember, m.ID, "left out: %v", err)
		case d.known(m.ID):
			problem(domain.KindMember, m.ID, "duplicate id; the first is kept")
		default:
			home := m.HomeCenterID
			if c := d.centers[home]; c != nil {
				home = c.ID // one string per center, not one per member
			} else if home != "" {
				problem(domain.KindMember, m.ID, "home center %q unknown: visits elsewhere are cross-center", m.HomeCenterID)
			}
			d.members[m.ID] = memberInfo{name: m.Name, home: home, suspended: m.Status == domain.MemberSuspended}
		}
	}
	seenBooking := map[string]bool{}
	for i := range bookings {
		b := bookings[i]
		switch err := b.Validate(); {
		case err != nil:
			problem(domain.KindBooking, b.ID, "left out: %v", err)
		case seenBooking[b.ID]:
			problem(domain.KindBooking, b.ID, "duplicate id; the first is kept")
		case !d.known(b.MemberID):
			problem(domain.KindBooking, b.ID, "left out: unknown member %q", b.MemberID)
		case d.centers[b.CenterID] == nil:
			problem(domain.KindBooking, b.ID, "left out: unknown center %q", b.CenterID)
		case b.Status != domain.BookingConfirmed && b.Status != domain.BookingReleased:
			// Cancelled: not held, worth nothing. A released booking (a room
			// nobody checked in to, issue 15) stays: it is a no-show, credited
			// per the no-show policy, not a cancellation.
			seenBooking[b.ID] = true
		default:
			seenBooking[b.ID] = true
			d.bookings[b.MemberID] = append(d.bookings[b.MemberID], b)
		}
	}
	for _, bs := range d.bookings {
		slices.SortFunc(bs, func(a, b domain.Booking) int {
			return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
		})
	}
	seenPass := map[string]bool{}
	for i := range passes {
		p := passes[i]
		switch err := p.Validate(); {
		case err != nil:
			problem(domain.KindPass, p.ID, "left out: %v", err)
		case seenPass[p.ID]:
			problem(domain.KindPass, p.ID, "duplicate id; the first is kept")
		case !d.known(p.MemberID):
			problem(domain.KindPass, p.ID, "left out: unknown member %q", p.MemberID)
		default:
			seenPass[p.ID] = true
			for _, c := range p.CenterIDs {
				if d.centers[c] == nil {
					problem(domain.KindPass, p.ID, "names unknown center %q", c)
				}
			}
			d.passes[p.MemberID] = append(d.passes[p.MemberID], p)
		}
	}
	for _, ps := range d.passes {
		slices.SortFunc(ps, func(a, b domain.Pass) int {
			return cmp.Or(a.ValidFrom.Compare(b.ValidFrom), cmp.Compare(a.ID, b.ID))
		})
	}
	return d
}

// Problems lists the records left out or kept with a caveat, in input order.
func (d *Directory) Problems() []Problem { return slices.Clone(d.problems) }

// CenterIDs lists the known centers, sorted.
func (d *Directory) CenterIDs() []string { return slices.Clone(d.centerIDs) }

// MemberIDs lists the known members, sorted.
func (d *Directory) MemberIDs() []string {
	ids := make([]string, 0, len(d.members))
	for id := range d.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Member returns the member without its email (the directory does not keep
// it), or nil when unknown.
func (d *Directory) Member(id string) *domain.Member {
	m, ok := d.members[id]
	if !ok {
		return nil
	}
	status := domain.MemberActive
	if m.suspended {
		status = domain.MemberSuspended
	}
	return &domain.Member{ID: id, Name: m.name, HomeCenterID: m.home, Status: status}
}

// Home returns the member's home center ("" for a nomadic member) and
// whether the member is known, without building a domain.Member.
func (d *Directory) Home(id string) (string, bool) {
	m, ok := d.members[id]
	return m.home, ok
}

// known reports whether the member is in the directory.
func (d *Directory) known(id string) bool {
	_, ok := d.members[id]
	return ok
}

// bookingsOverlapping returns the member's confirmed bookings that overlap
// [fromMs, toMs).
func (d *Directory) bookingsOverlapping(member string, fromMs, toMs int64) []domain.Booking {
	bs := d.bookings[member]
	// Bookings are sorted by start and last at most domain.MaxBookingLength.
	lo, _ := slices.BinarySearchFunc(bs, fromMs-domain.MaxBookingLength.Milliseconds(), func(b domain.Booking, ms int64) int {
		return cmp.Compare(b.Start.UnixMilli(), ms)
	})
	var out []domain.Booking
	for _, b := range bs[lo:] {
		if b.Start.UnixMilli() >= toMs {
			break
		}
		if b.End.UnixMilli() > fromMs {
			out = append(out, b)
		}
	}
	return out
}
