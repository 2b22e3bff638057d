package web

import (
	"context"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// eventView is one door event as the pages and the live stream show it.
type eventView struct {
	ID         uint64 `json:"id,omitempty"` // live stream position
	TimeMs     int64  `json:"time_ms"`
	Time       string `json:"time"`
	Trusted    bool   `json:"trusted"`
	Door       string `json:"door"`
	DoorName   string `json:"door_name"`
	Center     string `json:"center"`
	Seq        uint64 `json:"seq"`
	Kind       string `json:"kind"`
	What       string `json:"what"`
	Reason     string `json:"reason,omitempty"`
	ReasonText string `json:"reason_text,omitempty"`
	Granted    bool   `json:"granted"`
	Denied     bool   `json:"denied"`
	Alarm      bool   `json:"alarm"`
	UID        string `json:"uid,omitempty"`
	Member     string `json:"member,omitempty"`
	// Zone is the time zone of the door's center (IANA), the zone the
	// event's time is shown in; At and Loc are the same for templates.
	Zone string         `json:"zone,omitempty"`
	At   time.Time      `json:"-"`
	Loc  *time.Location `json:"-"`
	// Stamps is the time in words in each language (the live stream's
	// rows, written by live.js in the page's language).
	Stamps map[string]string `json:"stamps,omitempty"`
}

// kindText is an event kind in words.
func kindText(k protocol.EventKind) string {
	switch k {
	case protocol.EventTap:
		return "badge tap"
	case protocol.EventRexExit:
		return "exit button"
	case protocol.EventDoorForced:
		return "door forced open"
	case protocol.EventDoorHeldOpen:
		return "door held open"
	case protocol.EventDoorClosed:
		return "door closed"
	case protocol.EventRemoteUnlock:
		return "remote unlock"
	case protocol.EventReaderFault:
		return "reader fault"
	case protocol.EventReaderOK:
		return "reader answers again"
	case protocol.EventSuspectedClone:
		return "suspected badge clone"
	}
	return string(k)
}

// eventKinds are the event kinds the pages put in words (catalog keys
// "kind.KIND").
func eventKinds() []protocol.EventKind {
	return []protocol.EventKind{protocol.EventTap, protocol.EventRexExit, protocol.EventDoorForced, protocol.EventDoorHeldOpen,
		protocol.EventDoorClosed, protocol.EventRemoteUnlock, protocol.EventReaderFault, protocol.EventReaderOK,
		protocol.EventSuspectedClone}
}

// reasonCodes are the access decisions' reason codes (catalog keys
// "reason.CODE").
func reasonCodes() []protocol.Reason {
	return []protocol.Reason{protocol.GrantedBooking, protocol.GrantedPass, protocol.GrantedStaff, protocol.DeniedUnknownBadge,
		protocol.DeniedRevoked, protocol.DeniedNoBooking, protocol.DeniedOutsideWindow, protocol.DeniedWrongRoom,
		protocol.DeniedStaleWhitelist, protocol.DeniedClockUntrusted, protocol.DeniedNoWhitelist, protocol.DeniedDebounce,
		protocol.DeniedReaderUntrusted, protocol.DeniedAuthFailed, protocol.DeniedNotSecure}
}

// alarm reports the kinds that are door alarms.
func alarm(k protocol.EventKind) bool {
	return k == protocol.EventDoorForced || k == protocol.EventDoorHeldOpen || k == protocol.EventReaderFault ||
		k == protocol.EventSuspectedClone
}

// tapOrAlarm is what the live view shows by default.
func tapOrAlarm(k protocol.EventKind) bool { return k == protocol.EventTap || alarm(k) }

func (w *Web) view(door doorInfo, e *protocol.Event) eventView {
	v := eventView{TimeMs: e.TimeMs, Time: w.fmtMs(e.TimeMs), Trusted: e.Trusted, Door: door.id, DoorName: door.name, Center: door.center,
		Seq: e.Seq, Kind: string(e.Kind), What: kindText(e.Kind), Alarm: alarm(e.Kind), UID: string(e.UID), Member: e.Member,
		At: time.UnixMilli(e.TimeMs), Loc: door.loc}
	if v.Loc == nil {
		v.Loc = w.loc
	}
	v.Zone = v.Loc.String()
	v.Stamps = map[string]string{}
	for _, l := range i18n.Langs() {
		v.Stamps[string(l)] = w.cat.Locale(l).Stamp(v.At, v.Loc)
	}
	if e.Kind == protocol.EventTap {
		v.Reason, v.ReasonText = string(e.Reason), e.Reason.Text()
		v.Granted, v.Denied = e.Reason.Granted(), !e.Reason.Granted()
	}
	return v
}

func (w *Web) fmtMs(ms int64) string {
	if ms <= 0 {
		return "—"
	}
	return time.UnixMilli(ms).In(w.loc).Format("2006-01-02 15:04:05")
}

// doorInfo is what the live view needs of a door.
type doorInfo struct {
	id, name, center string
	loc              *time.Location // the center's time zone; nil: the network's
	loaded           time.Time
}

// doorCache maps door ids to their center and name. A door's center never
// changes; names are reloaded after doorCacheTTL. The doors of a zone share
// its one location (zones).
type doorCache struct {
	mu    sync.Mutex
	doors map[string]doorInfo
	zones domain.Zones
}

const doorCacheTTL = 5 * time.Minute

func (c *doorCache) get(ctx context.Context, st store.Store, id string, now time.Time) doorInfo {
	c.mu.Lock()
	d, ok := c.doors[id]
	c.mu.Unlock()
	if ok && now.Sub(d.loaded) < doorCacheTTL {
		return d
	}
	dd, err := st.Door(ctx, id)
	if err != nil {
		// Unknown door (or the store failed): keep the id, no center, so
		// that only admins see it, and try again next time.
		return doorInfo{id: id, name: id}
	}
	d = doorInfo{id: dd.ID, name: dd.Name, center: dd.CenterID, loaded: now}
	if cc, err := st.Center(ctx, dd.CenterID); err == nil {
		d.loc, _ = c.zones.Load(cc.TimeZone)
	}
	c.mu.Lock()
	c.doors[id] = d
	c.mu.Unlock()
	return d
}

// recentWindows are the look-back windows tried, shortest first, to find
// the newest events (the store lists events oldest first).
func recentWindows() []time.Duration {
	return []time.Duration{10 * time.Minute, 2 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 31 * 24 * time.Hour}
}

// maxRecentPages bounds the pages read in one window.
const maxRecentPages = 20

// recentEvents returns up to n of the newest stored events that match f
// (From and paging are set here) and keep, newest first, looking back at
// most 31 days. The store lists events oldest first, so it reads growing
// windows ending now until one holds n events. A window with more than
// maxRecentPages pages of events is not read to its end: the answer is then
// the (fewer than n, but newest) events of the last window read in full,
// and complete is false.
func recentEvents(ctx context.Context, st store.Store, f store.EventFilter, now time.Time, n int, keep func(*domain.Event) bool) (out []domain.Event, complete bool, err error) {
	var best []domain.Event // oldest first
	for _, win := range recentWindows() {
		f.From = now.Add(-win)
		f.After = ""
		f.Limit = store.MaxLimit
		ring := make([]domain.Event, 0, n)
		for page := 0; ; page++ {
			if page == maxRecentPages {
				return newestFirst(best), false, nil
			}
			pg, err := st.ListEvents(ctx, f)
			if err != nil {
				return nil, false, err
			}
			for _, e := range pg.Items {
				if keep != nil && !keep(&e) {
					continue
				}
				if len(ring) == n {
					copy(ring, ring[1:])
					ring = ring[:n-1]
				}
				ring = append(ring, e)
			}
			if pg.Next == "" {
				break
			}
			f.After = pg.Next
		}
		best = ring
		if len(ring) == n {
			break
		}
	}
	return newestFirst(best), true, nil
}

func newestFirst(evs []domain.Event) []domain.Event {
	out := make([]domain.Event, len(evs))
	for i := range evs {
		out[len(evs)-1-i] = evs[i]
	}
	return out
}

// lastEvents remembers each door's newest event time: read from the store
// at most once a minute per door (other central replicas commit events this
// one's live feed never sees), and kept up to date by the live feed in
// between.
type lastEvents struct {
	mu     sync.Mutex
	byDoor map[string]lastEvent
}

type lastEvent struct {
	ms      int64     // door time of the newest event; 0: none found
	checked time.Time // when the store was last read for it
	known   bool
}

// lastEventRecheck is how long a door's newest event time is kept before
// the store is read again.
const lastEventRecheck = time.Minute

func newLastEvents() *lastEvents { return &lastEvents{byDoor: map[string]lastEvent{}} }

func (l *lastEvents) observe(door string, ms int64) {
	l.mu.Lock()
	if cur := l.byDoor[door]; cur.known && ms > cur.ms {
		cur.ms = ms
		l.byDoor[door] = cur
	}
	l.mu.Unlock()
}

// get returns the door's newest event time (0: none in 31 days).
func (l *lastEvents) get(ctx context.Context, st store.Store, door string, now time.Time) (int64, error) {
	l.mu.Lock()
	cur, ok := l.byDoor[door]
	l.mu.Unlock()
	if ok && cur.known && now.Sub(cur.checked) < lastEventRecheck {
		return cur.ms, nil
	}
	evs, _, err := recentEvents(ctx, st, store.EventFilter{Door: door}, now, 1, nil)
	if err != nil {
		return 0, err
	}
	var ms int64
	if len(evs) > 0 {
		ms = evs[0].TimeMs
	}
	l.mu.Lock()
	if c := l.byDoor[door]; !c.known || ms >= c.ms {
		l.byDoor[door] = lastEvent{ms: ms, checked: now, known: true}
	} else {
		ms = c.ms
	}
	l.mu.Unlock()
	return ms, nil
}
