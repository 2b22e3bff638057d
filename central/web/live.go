package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/web/i18n"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Sizes of the live feed.
const (
	commitQueue   = 256  // commits waiting for the worker
	replayRing    = 1024 // newest live events kept to replay after a reconnect
	subscriberBuf = 256  // events waiting for one stream
	dedupPerDoor  = 4096 // newest (door, seq) remembered per door to drop repeats
	heartbeat     = 15 * time.Second
	streamWrite   = 10 * time.Second // a stream whose client takes longer to read ends
)

// hub turns the ingest's commits into live events and fans them out to the
// streams, each filtered on the server by the viewer's centers and choices.
type hub struct {
	w     *Web
	queue chan commit
	doors doorCache

	epoch string // tells this process's stream ids from an earlier one's

	mu   sync.Mutex
	subs map[*subscriber]bool
	ring []eventView // replayRing at most; once full, oldest at head
	head int
	next uint64
	seen map[string]*seqSet

	clients *metrics.Gauge
	dropped *metrics.Counter
	wg      sync.WaitGroup
}

type commit struct {
	receivedMs int64
	batches    []ingest.Batch
}

// subscriber is one live stream. ch is closed when the stream fell behind:
// the browser reconnects and catches up from the replay ring.
type subscriber struct {
	ch    chan eventView
	allow func(*eventView) bool
}

// seqSet remembers the newest sequence numbers of one door.
type seqSet struct {
	set  map[uint64]bool
	ring []uint64
	pos  int
}

func (s *seqSet) add(seq uint64) bool {
	if s.set[seq] {
		return false
	}
	if len(s.ring) < dedupPerDoor {
		s.ring = append(s.ring, seq)
	} else {
		delete(s.set, s.ring[s.pos])
		s.ring[s.pos] = seq
		s.pos = (s.pos + 1) % dedupPerDoor
	}
	s.set[seq] = true
	return true
}

func newHub(w *Web, reg *metrics.Registry) *hub {
	h := &hub{w: w, epoch: randomToken()[:8], queue: make(chan commit, commitQueue), doors: doorCache{doors: map[string]doorInfo{}},
		subs: map[*subscriber]bool{}, seen: map[string]*seqSet{}, next: 1,
		clients: reg.Gauge("swc_web_live_streams", "Live event streams open on the dashboard."),
		dropped: reg.Counter("swc_web_live_dropped_events_total", "Committed events left out of the live view because its queue was full (they are stored)."),
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.run()
	}()
	return h
}

func (h *hub) wait() { h.wg.Wait() }

func (h *hub) offer(receivedMs int64, batches []ingest.Batch) {
	select {
	case h.queue <- commit{receivedMs: receivedMs, batches: batches}:
	default:
		n := 0
		for _, b := range batches {
			n += len(b.Events)
		}
		h.dropped.Add(uint64(n))
	}
}

func (h *hub) run() {
	// Close ends a commit being processed: the live view is only a view
	// (every event is stored), and a commit of thousands of doors whose
	// names are looked up held a restart for seconds.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.w.done
		cancel()
	}()
	for {
		select {
		case c := <-h.queue:
			h.process(ctx, c)
		case <-h.w.done:
			h.mu.Lock()
			for s := range h.subs {
				close(s.ch)
				delete(h.subs, s)
			}
			h.mu.Unlock()
			return
		}
	}
}

func (h *hub) process(ctx context.Context, c commit) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := h.w.now()
	for _, b := range c.batches {
		select {
		case <-h.w.done:
			return
		default:
		}
		door := h.doors.get(ctx, h.w.st, b.Door, now)
		for i := range b.Events {
			e := &b.Events[i]
			h.w.last.observe(b.Door, e.TimeMs)
			h.publish(b.Door, e.Seq, h.w.view(door, e))
		}
	}
}

func (h *hub) publish(door string, seq uint64, v eventView) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.seen[door]
	if s == nil {
		s = &seqSet{set: map[uint64]bool{}}
		h.seen[door] = s
	}
	if !s.add(seq) {
		return // a repeat the door sent again (its ack was lost)
	}
	v.ID = h.next
	h.next++
	if len(h.ring) < replayRing {
		h.ring = append(h.ring, v)
	} else { // over the oldest, which moving the others would cost per event
		h.ring[h.head] = v
		h.head = (h.head + 1) % replayRing
	}
	for sub := range h.subs {
		if !sub.allow(&v) {
			continue
		}
		select {
		case sub.ch <- v:
		default:
			close(sub.ch) // fell behind: it reconnects and replays
			delete(h.subs, sub)
		}
	}
}

// subscribe adds a stream; with after > 0 (the browser's Last-Event-ID) it
// also returns the kept events after that one that the stream allows.
func (h *hub) subscribe(after uint64, allow func(*eventView) bool) (*subscriber, []eventView) {
	s := &subscriber{ch: make(chan eventView, subscriberBuf), allow: allow}
	h.mu.Lock()
	defer h.mu.Unlock()
	var replay []eventView
	if after > 0 {
		for i := range h.ring {
			if v := h.ring[(h.head+i)%len(h.ring)]; v.ID > after && allow(&v) {
				replay = append(replay, v)
			}
		}
	}
	h.subs[s] = true
	h.clients.Set(float64(len(h.subs)))
	return s, replay
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	if h.subs[s] {
		delete(h.subs, s)
	}
	h.clients.Set(float64(len(h.subs)))
	h.mu.Unlock()
}

// liveFilter is what a live view shows: a center and a door (both
// optional, within the viewer's centers) and all kinds or taps and alarms.
type liveFilter struct {
	Center, Door string
	All          bool
}

// liveFilterOf reads and checks the filter of a live request.
func (w *Web) liveFilterOf(r *http.Request, v *viewer) (liveFilter, error) {
	q := r.URL.Query()
	f := liveFilter{Center: q.Get("center"), Door: q.Get("door"), All: q.Get("kinds") == "all"}
	if f.Center != "" {
		if err := protocol.ValidID(f.Center); err != nil {
			return f, pageErr(http.StatusBadRequest, "error.no_center")
		}
		if !v.Sees(f.Center) {
			return f, forbidden(f.Center)
		}
	}
	if f.Door != "" {
		if err := protocol.ValidID(f.Door); err != nil {
			return f, pageErr(http.StatusBadRequest, "error.no_door")
		}
		d, err := w.st.Door(r.Context(), f.Door)
		if err != nil {
			return f, err
		}
		if !v.Sees(d.CenterID) {
			return f, hidden("door", f.Door)
		}
	}
	return f, nil
}

// allows reports whether the viewer, with this filter, sees the event.
// Events of doors the central does not know (no center) are the admin's.
func (f liveFilter) allows(v *viewer, e *eventView) bool {
	if !v.Sees(e.Center) {
		return false
	}
	if f.Center != "" && e.Center != f.Center {
		return false
	}
	if f.Door != "" && e.Door != f.Door {
		return false
	}
	return f.All || tapOrAlarm(protocol.EventKind(e.Kind))
}

// live shows the newest events and opens the stream.
func (w *Web) live(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	f, err := w.liveFilterOf(r, v)
	if err != nil {
		return err
	}
	ctx, cancel := w.context(r)
	defer cancel()
	centers, err := w.visibleCenters(ctx, v)
	if err != nil {
		return err
	}
	doors, err := w.visibleDoors(ctx, v, f.Center)
	if err != nil {
		return err
	}
	sf := store.EventFilter{Door: f.Door, CenterIDs: v.scope()}
	if f.Center != "" {
		sf.CenterIDs = []string{f.Center}
	}
	now := w.now()
	names, locs := map[string]string{}, map[string]*time.Location{}
	for _, c := range centers {
		locs[c.ID] = w.centerLoc(c)
	}
	for _, d := range doors {
		names[d.ID] = d.Name
	}
	evs, complete, err := recentEvents(ctx, w.st, sf, now, 30, func(e *domain.Event) bool { return f.All || tapOrAlarm(e.Kind) })
	if err != nil {
		return err
	}
	views := make([]eventView, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		name := names[e.Door]
		if name == "" {
			name = e.Door
		}
		views = append(views, w.view(doorInfo{id: e.Door, name: name, center: e.Center, loc: locs[e.Center]}, &e.Event))
	}
	q := r.URL.Query()
	w.render(rw, r, http.StatusOK, "live", v, map[string]any{
		"Filter": f, "Centers": centers, "Doors": doors, "Events": views, "Complete": complete,
		"StreamURL": "/live/stream?" + q.Encode(), "Texts": w.liveTexts(w.locale(r, v)),
	})
	return nil
}

// liveTexts are the words live.js needs, in the page's language: the
// stream sends event kinds and reason codes, the page shows them in words.
func (w *Web) liveTexts(loc i18n.Locale) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"live.live", "live.reconnecting", "live.unsupported", "live.ended", "events.clock_short"} {
		out[k] = loc.T(k)
	}
	for _, k := range eventKinds() {
		out["kind."+string(k)] = loc.T("kind." + string(k))
	}
	for _, r := range reasonCodes() {
		out["reason."+string(r)] = loc.T("reason." + string(r))
	}
	return out
}

// stream serves the live events as server-sent events ("door-event", JSON
// of eventView, with the id the browser sends back as Last-Event-ID).
func (w *Web) stream(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	f, err := w.liveFilterOf(r, v)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(rw)
	// The server's read timeout would end the stream (and cancel its
	// context) after a while: a stream reads nothing more.
	_ = rc.SetReadDeadline(time.Time{})
	var after uint64
	if epoch, n, ok := strings.Cut(r.Header.Get("Last-Event-ID"), "."); ok && epoch == w.hub.epoch {
		after, _ = strconv.ParseUint(n, 10, 64)
	}
	sub, replay := w.hub.subscribe(after, func(e *eventView) bool { return f.allows(v, e) })
	defer w.hub.unsubscribe(sub)

	h := rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	write := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWrite))
		if _, err := fmt.Fprint(rw, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	send := func(e eventView) bool {
		b, err := json.Marshal(e)
		if err != nil {
			return false
		}
		return write(fmt.Sprintf("id: %s.%d\nevent: door-event\ndata: %s\n\n", w.hub.epoch, e.ID, b))
	}
	if !write("retry: 2000\n: live events of the Smart Work Centers network\n\n") {
		return nil
	}
	for _, e := range replay {
		if !send(e) {
			return nil
		}
	}
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	check := time.NewTicker(sessionCheckTick)
	defer check.Stop()
	for {
		select {
		case e, ok := <-sub.ch:
			if !ok {
				return nil // fell behind or shutting down: the browser reconnects
			}
			if !send(e) {
				return nil
			}
		case <-beat.C:
			if !write(": keepalive\n\n") {
				return nil
			}
		case <-check.C:
			if !w.stillValid(r, v) {
				_ = write("event: session-ended\ndata: {}\n\n")
				return nil
			}
		case <-r.Context().Done():
			return nil
		case <-w.done:
			return nil
		}
	}
}
