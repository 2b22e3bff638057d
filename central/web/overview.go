package web

import (
	"context"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// doorRow is a door's state as the overview and the door page show it.
type doorRow struct {
	domain.Door
	State        string         // online, offline or unknown (no status received)
	Loc          *time.Location // the center's time zone: the times below are shown in it
	LastSeen     time.Time      // zero: never
	LastEvent    time.Time      // zero: none in 31 days
	Firmware     string
	Boot         string
	Reported     uint64 // whitelist version the door reports
	Compiled     uint64 // whitelist version the compiler holds
	HasCompiled  bool
	Lag          uint64 // versions behind; 0 when up to date or unknown
	Outbox       uint64
	OutboxOldest time.Time
	ClockTrusted bool
	DoorState    string
	Reader       string
	StatusTime   time.Time
}

// centerRow sums a center's doors.
type centerRow struct {
	domain.Center
	Doors                    []doorRow
	Online, Offline, Unknown int
	Loc                      *time.Location
	LastEvent                time.Time
	Backlog                  uint64
	Lagging                  int
	// Badges of the center's members that are not revoked: secure, and
	// still UID-only (which anyone can copy).
	Secure, UIDOnly int
}

func (w *Web) doorStates() map[string]ingest.DoorState {
	if w.cfg.Doors == nil {
		return nil
	}
	return w.cfg.Doors()
}

// doorRow builds a door's row from the ingest's state, the compiler's
// version and the newest stored event.
// doorRow is a door as the pages show it; loc is its center's time zone.
func (w *Web) doorRow(ctx context.Context, d domain.Door, loc *time.Location, states map[string]ingest.DoorState) (doorRow, error) {
	row := doorRow{Door: d, State: "unknown", Loc: loc}
	if st, ok := states[d.ID]; ok {
		row.LastSeen = st.LastSeen
		s := st.Status
		if s.State != "" {
			row.State = s.State
			row.Firmware, row.Boot, row.Reported = s.Firmware, s.Boot, s.WLVersion
			row.Outbox, row.ClockTrusted, row.DoorState, row.Reader = s.OutboxDepth, s.ClockTrusted, s.DoorState, s.Reader
			if s.OutboxOldestMs > 0 {
				row.OutboxOldest = time.UnixMilli(s.OutboxOldestMs)
			}
			if s.TimeMs > 0 {
				row.StatusTime = time.UnixMilli(s.TimeMs)
			}
		}
	}
	if w.cfg.Versions != nil {
		row.Compiled, row.HasCompiled = w.cfg.Versions(d.ID)
		if row.HasCompiled && row.State != "unknown" && row.Compiled > row.Reported {
			row.Lag = row.Compiled - row.Reported
		}
	}
	ms, err := w.last.get(ctx, w.st, d.ID, w.now())
	if err != nil {
		return row, err
	}
	if ms > 0 {
		row.LastEvent = time.UnixMilli(ms)
	}
	return row, nil
}

// visibleCenters lists the centers the viewer sees.
// centerLoc is the center's time zone (the network's when it does not load).
func (w *Web) centerLoc(c domain.Center) *time.Location {
	loc, err := c.Location()
	if err != nil {
		return w.loc
	}
	return loc
}

func (w *Web) visibleCenters(ctx context.Context, v *viewer) ([]domain.Center, error) {
	return store.All(ctx, func(p store.PageRequest) (store.Page[domain.Center], error) {
		return w.st.ListCenters(ctx, store.CenterFilter{IDs: v.scope(), PageRequest: p})
	})
}

// visibleDoors lists the doors the viewer sees, of one center when center
// is set (the caller checked the viewer sees it).
func (w *Web) visibleDoors(ctx context.Context, v *viewer, center string) ([]domain.Door, error) {
	f := store.DoorFilter{CenterIDs: v.scope()}
	if center != "" {
		f.CenterIDs = []string{center}
	}
	return store.All(ctx, func(p store.PageRequest) (store.Page[domain.Door], error) {
		f.PageRequest = p
		return w.st.ListDoors(ctx, f)
	})
}

// overview shows every visible center with its doors.
func (w *Web) overview(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	ctx, cancel := w.context(r)
	defer cancel()
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	doors, err := w.visibleDoors(ctx, v, "")
	if err != nil {
		return err
	}
	states := w.doorStates()
	rows := make([]*centerRow, 0, len(centers))
	byID := map[string]*centerRow{}
	for _, c := range centers {
		cr := &centerRow{Center: c, Loc: w.centerLoc(c)}
		rows = append(rows, cr)
		byID[c.ID] = cr
	}
	counts, err := w.st.CountBadgeCredentials(ctx)
	if err != nil {
		return err
	}
	for _, bc := range counts {
		if cr := byID[bc.Center]; cr != nil {
			cr.Secure, cr.UIDOnly = bc.Secure, bc.UIDOnly
		}
	}
	var totals struct{ Centers, Doors, Online, Offline, Unknown, Lagging int }
	var backlog uint64
	for _, d := range doors {
		cr := byID[d.CenterID]
		if cr == nil {
			continue
		}
		row, err := w.doorRow(ctx, d, cr.Loc, states)
		if err != nil {
			return err
		}
		cr.Doors = append(cr.Doors, row)
		switch row.State {
		case protocol.StateOnline:
			cr.Online++
		case protocol.StateOffline:
			cr.Offline++
		default:
			cr.Unknown++
		}
		cr.Backlog += row.Outbox
		if row.Lag > 0 {
			cr.Lagging++
		}
		if row.LastEvent.After(cr.LastEvent) {
			cr.LastEvent = row.LastEvent
		}
	}
	for _, cr := range rows {
		totals.Centers++
		totals.Doors += len(cr.Doors)
		totals.Online += cr.Online
		totals.Offline += cr.Offline
		totals.Unknown += cr.Unknown
		totals.Lagging += cr.Lagging
		backlog += cr.Backlog
	}
	w.render(rw, r, http.StatusOK, "overview", v, map[string]any{"Centers": rows, "Totals": totals, "Backlog": backlog,
		"AsOf": w.now().In(w.loc).Format(time.DateTime)})
	return nil
}
