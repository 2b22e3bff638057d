package booking

import (
	"context"
	"sort"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// Kinds of place a Query asks for.
const (
	KindDesk = "desk"
	KindRoom = "room"
)

// Query asks where one can work in [Start, End): at the listed centers
// (nil: the whole network), a desk, a room for People, or either (Kind "").
type Query struct {
	CenterIDs []string
	Start     time.Time
	End       time.Time
	People    int
	Kind      string
}

// CenterAvailability is one center's answer to a Query.
type CenterAvailability struct {
	CenterID string `json:"center_id"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
	// Open: the center is open the whole time.
	Open bool `json:"open"`
	// Desks is the pool's capacity; DesksFree how many are free the whole time.
	Desks     int `json:"desks"`
	DesksFree int `json:"desks_free"`
	// Rooms are the rooms that seat People (all of them when Kind is
	// desk), each free or not.
	Rooms []RoomAvailability `json:"rooms"`
	// Fits: open, and a desk (or a room for People) is free the whole time.
	Fits bool `json:"fits"`
}

// RoomAvailability says whether a room is free the whole time.
type RoomAvailability struct {
	domain.Room
	Free bool `json:"free"`
}

// MaxQueryRange bounds an availability query.
const MaxQueryRange = 31 * 24 * time.Hour

// Availability answers a Query, one entry per center by id.
func (s *Service) Availability(ctx context.Context, q Query) ([]CenterAvailability, error) {
	out, err := s.availability(ctx, q)
	return out, s.fail(ctx, "availability", err)
}

func (s *Service) availability(ctx context.Context, q Query) ([]CenterAvailability, error) {
	switch {
	case q.Start.IsZero():
		return nil, refuse(CodeInvalid, "start", "required")
	case !q.End.After(q.Start):
		return nil, refuse(CodeInvalid, "end", "must be after start")
	case q.End.Sub(q.Start) > MaxQueryRange:
		return nil, refuse(CodeInvalid, "end", "a query spans at most %d days", int(MaxQueryRange/(24*time.Hour)))
	case q.People < 0 || q.People > domain.MaxRoomCapacity:
		return nil, refuse(CodeInvalid, "people", "%d; want 1 to %d", q.People, domain.MaxRoomCapacity)
	case q.Kind != "" && q.Kind != KindDesk && q.Kind != KindRoom:
		return nil, refuse(CodeInvalid, "kind", "%q; want desk or room", q.Kind)
	}
	people := max(q.People, 1)
	pl, err := s.load(ctx, q.CenterIDs, q.Start, q.End)
	if err != nil {
		return nil, err
	}
	out := make([]CenterAvailability, 0, len(pl.centers))
	for i := range pl.centers {
		c := &pl.centers[i]
		a := CenterAvailability{CenterID: c.ID, Name: c.Name, TimeZone: c.TimeZone, Rooms: []RoomAvailability{}}
		if a.Open, err = WithinHours(c, q.Start, q.End); err != nil {
			return nil, err
		}
		a.Desks = pl.pools[c.ID]
		a.DesksFree = max(0, a.Desks-peak(pl.desks[c.ID], q.Start, q.End))
		for _, r := range pl.rooms[c.ID] {
			if q.Kind != KindDesk && max(r.Capacity, 1) < people {
				continue
			}
			ra := RoomAvailability{Room: r, Free: !busy(pl.roomBookings[r.ID], q.Start, q.End)}
			a.Rooms = append(a.Rooms, ra)
			if ra.Free && q.Kind != KindDesk {
				a.Fits = a.Open
			}
		}
		if q.Kind != KindRoom && people <= a.DesksFree && a.Open {
			a.Fits = true
		}
		out = append(out, a)
	}
	return out, nil
}

// placesAt is what the availability queries read: centers, pools, rooms
// and the confirmed bookings of a time range.
type placesAt struct {
	centers      []domain.Center
	pools        map[string]int
	rooms        map[string][]domain.Room
	desks        map[string][]domain.Booking // by center
	roomBookings map[string][]domain.Booking // by room
}

func (s *Service) load(ctx context.Context, centerIDs []string, from, to time.Time) (*placesAt, error) {
	pl := &placesAt{pools: map[string]int{}, rooms: map[string][]domain.Room{}, desks: map[string][]domain.Booking{}, roomBookings: map[string][]domain.Booking{}}
	var err error
	pl.centers, err = store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return s.st.ListCenters(ctx, store.CenterFilter{IDs: centerIDs, PageRequest: p})
	})
	if err != nil {
		return nil, err
	}
	for _, id := range centerIDs {
		if !containsCenter(pl.centers, id) {
			return nil, refuse(CodeUnknownCenter, "center_id", "no center %s", id)
		}
	}
	pools, err := s.ps.ListDeskPools(ctx, centerIDs)
	if err != nil {
		return nil, err
	}
	for _, p := range pools {
		pl.pools[p.CenterID] = p.Capacity
	}
	rooms, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Room], error) {
		return s.st.ListRooms(ctx, store.RoomFilter{CenterIDs: centerIDs, PageRequest: p})
	})
	if err != nil {
		return nil, err
	}
	for _, r := range rooms {
		pl.rooms[r.CenterID] = append(pl.rooms[r.CenterID], r)
	}
	ids := make([]string, len(pl.centers)) // named, so that the range scans seek per center
	for i := range pl.centers {
		ids[i] = pl.centers[i].ID
	}
	occ, err := s.ps.Occupancy(ctx, ids, from, to)
	if err != nil {
		return nil, err
	}
	for _, b := range occ {
		if b.RoomID == "" {
			pl.desks[b.CenterID] = append(pl.desks[b.CenterID], b)
		} else {
			pl.roomBookings[b.RoomID] = append(pl.roomBookings[b.RoomID], b)
		}
	}
	return pl, nil
}

func containsCenter(cs []domain.Center, id string) bool {
	for i := range cs {
		if cs[i].ID == id {
			return true
		}
	}
	return false
}

// peak is the largest number of bookings that overlap at one moment of
// [from, to); a booking ending when another starts does not overlap it.
func peak(bs []domain.Booking, from, to time.Time) int {
	type edge struct {
		at int64
		d  int
	}
	edges := make([]edge, 0, 2*len(bs))
	f, t := from.UnixMilli(), to.UnixMilli()
	for i := range bs {
		s, e := max(bs[i].Start.UnixMilli(), f), min(bs[i].End.UnixMilli(), t)
		if s < e {
			edges = append(edges, edge{s, 1}, edge{e, -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].d < edges[j].d
	})
	n, top := 0, 0
	for _, e := range edges {
		n += e.d
		top = max(top, n)
	}
	return top
}

func busy(bs []domain.Booking, from, to time.Time) bool {
	for i := range bs {
		if bs[i].Start.Before(to) && bs[i].End.After(from) {
			return true
		}
	}
	return false
}

// Week is a center's week view: seven local days from a date.
type Week struct {
	CenterID string `json:"center_id"`
	TimeZone string `json:"time_zone"`
	Desks    int    `json:"desks"`
	Days     []Day  `json:"days"`
}

// Day is one local day of a Week: its opening spans cut into slots of at
// most an hour (none when closed).
type Day struct {
	Date  string        `json:"date"` // YYYY-MM-DD, local
	Hours []domain.Span `json:"hours"`
	Slots []Slot        `json:"slots"`
}

// Slot says what is free during [Start, End).
type Slot struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	DesksFree int       `json:"desks_free"`
	RoomsFree []string  `json:"rooms_free"`
}

// Week returns the week view of a center from the local date of day
// (CodeUnknownCenter).
func (s *Service) Week(ctx context.Context, center string, day time.Time) (Week, error) {
	w, err := s.week(ctx, center, day)
	return w, s.fail(ctx, "week", err)
}

func (s *Service) week(ctx context.Context, center string, day time.Time) (Week, error) {
	c, err := s.center(ctx, center)
	if err != nil {
		return Week{}, err
	}
	loc, err := c.Location()
	if err != nil {
		return Week{}, err
	}
	if day.IsZero() {
		return Week{}, refuse(CodeInvalid, "date", "required")
	}
	y, m, d := day.In(loc).Date()
	first := time.Date(y, m, d, 0, 0, 0, 0, loc)
	end := first.AddDate(0, 0, 7)
	pl, err := s.load(ctx, []string{center}, first, end)
	if err != nil {
		return Week{}, err
	}
	desks := pl.desks[center]
	sort.Slice(desks, func(i, j int) bool { return desks[i].Start.Before(desks[j].Start) })
	w := Week{CenterID: center, TimeZone: c.TimeZone, Desks: pl.pools[center], Days: make([]Day, 0, 7)}
	for i := range 7 {
		date := first.AddDate(0, 0, i)
		dy := Day{Date: date.Format("2006-01-02"), Hours: c.Hours[date.Weekday()], Slots: []Slot{}}
		if dy.Hours == nil {
			dy.Hours = []domain.Span{}
		}
		for _, sp := range dy.Hours {
			for min0 := sp.Open; min0 < sp.Close; min0 += 60 {
				min1 := min(min0+60, sp.Close)
				st := time.Date(date.Year(), date.Month(), date.Day(), min0/60, min0%60, 0, 0, loc)
				en := time.Date(date.Year(), date.Month(), date.Day(), min1/60, min1%60, 0, 0, loc)
				sl := Slot{Start: st.UTC(), End: en.UTC(), RoomsFree: []string{}}
				sl.DesksFree = max(0, w.Desks-peak(overlapping(desks, st, en), st, en))
				for _, r := range pl.rooms[center] {
					if !busy(pl.roomBookings[r.ID], st, en) {
						sl.RoomsFree = append(sl.RoomsFree, r.ID)
					}
				}
				dy.Slots = append(dy.Slots, sl)
			}
		}
		w.Days = append(w.Days, dy)
	}
	return w, nil
}

// overlapping returns the bookings (sorted by start) that overlap [from, to).
func overlapping(bs []domain.Booking, from, to time.Time) []domain.Booking {
	n := sort.Search(len(bs), func(i int) bool { return !bs[i].Start.Before(to) })
	var out []domain.Booking
	for _, b := range bs[:n] {
		if b.End.After(from) {
			out = append(out, b)
		}
	}
	return out
}
