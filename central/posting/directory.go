package posting

import (
	"context"
	"fmt"
	"time"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// directory is one snapshot of the reference data the ledger credits
// against, with the records it was built from (so that a change can be
// compared with the state before it). Members are compared through dir
// (the store holds only valid members, all of which dir keeps): a copy of
// every member here would double the directory's largest part, most of a
// network's members having neither booking nor pass.
type directory struct {
	dir *credit.Directory
	// fromMs: the bookings that end after it are loaded (every other
	// record is loaded whole).
	fromMs   int64
	centers  map[string]domain.Center
	doors    map[string]domain.Door
	bookings map[string]domain.Booking
	passes   map[string]domain.Pass
}

// LoadDirectory reads the directory the engine credits against from the
// store: every center, door, member and pass, and the bookings that overlap
// [from, to) (to zero: every booking that ends after from).
func LoadDirectory(ctx context.Context, st store.Store, from, to time.Time) (*credit.Directory, error) {
	d, err := loadDirectory(ctx, st, from, to, nil)
	if err != nil {
		return nil, err
	}
	return d.dir, nil
}

// loadDirectory is LoadDirectory with the records kept beside it; with
// keep, the members are keep's (see credit.Directory.WithRecords) and not
// read again.
func loadDirectory(ctx context.Context, st store.Store, from, to time.Time, keep *credit.Directory) (*directory, error) {
	centers, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return st.ListCenters(ctx, store.CenterFilter{PageRequest: p})
	})
	if err != nil {
		return nil, fmt.Errorf("posting: load centers: %w", err)
	}
	doors, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
		return st.ListDoors(ctx, store.DoorFilter{PageRequest: p})
	})
	if err != nil {
		return nil, fmt.Errorf("posting: load doors: %w", err)
	}
	var members []domain.Member
	if keep == nil {
		members, err = store.All(ctx, func(p store.PageRequest) (store.Page[domain.Member], error) {
			return st.ListMembers(ctx, store.MemberFilter{PageRequest: p})
		})
		if err != nil {
			return nil, fmt.Errorf("posting: load members: %w", err)
		}
	}
	bookings, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Booking], error) {
		return st.ListBookings(ctx, store.BookingFilter{From: from, To: to, PageRequest: p})
	})
	if err != nil {
		return nil, fmt.Errorf("posting: load bookings: %w", err)
	}
	passes, err := store.All(ctx, func(p store.PageRequest) (store.Page[domain.Pass], error) {
		return st.ListPasses(ctx, store.PassFilter{PageRequest: p})
	})
	if err != nil {
		return nil, fmt.Errorf("posting: load passes: %w", err)
	}
	var dir *credit.Directory
	if keep != nil {
		dir = keep.WithRecords(centers, doors, bookings, passes)
	} else {
		dir = credit.NewDirectory(centers, doors, members, bookings, passes)
	}
	d := &directory{
		dir:      dir,
		fromMs:   from.UnixMilli(),
		centers:  make(map[string]domain.Center, len(centers)),
		doors:    make(map[string]domain.Door, len(doors)),
		bookings: make(map[string]domain.Booking, len(bookings)),
		passes:   make(map[string]domain.Pass, len(passes)),
	}
	for _, x := range centers {
		d.centers[x.ID] = x
	}
	for _, x := range doors {
		d.doors[x.ID] = x
	}
	for _, x := range bookings {
		d.bookings[x.ID] = x
	}
	for _, x := range passes {
		d.passes[x.ID] = x
	}
	return d, nil
}

// FromScratch credits period p from the events stored in st, ignoring the
// ledger's state: the directory as it is now, the events of
// credit.EventWindow, credit.Compute. The result's settlement and
// statements for p carry no adjustments and are not frozen.
func FromScratch(ctx context.Context, st store.Store, rules credit.Config, p credit.Period) (*credit.Result, error) {
	if p.IsZero() {
		return nil, fmt.Errorf("posting: from scratch: %w: no period", credit.ErrPeriod)
	}
	// Bookings overlapping the period and a margin on both sides determine
	// the window; the window then bounds the events read.
	start, end := p.Start(rules.Location), p.End(rules.Location)
	dir, err := LoadDirectory(ctx, st, start.Add(-margin), end.Add(margin))
	if err != nil {
		return nil, err
	}
	from, to := credit.EventWindow(rules, dir, p)
	events, err := st.Credit().WindowEvents(ctx, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("posting: from scratch: %w", err)
	}
	return credit.Compute(rules, dir, events)
}

// margin is what the directory holds before the earliest period it serves:
// bookings ending in it can still be attended by entries that matter to the
// period (grace before a start, an entry two days before that keeps a
// member inside, a walk-in ending at midnight).
const margin = 4 * 24 * time.Hour
