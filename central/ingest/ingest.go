// Package ingest is the central side of door sync: it receives event batches
// from every door over MQTT, commits them idempotently, then acknowledges
// them; it answers whitelist sync requests, publishes whitelist changes and
// keeps each door's online state from its retained status.
//
// The broker is reached through a Link: PahoLink (an external broker such
// as Mosquitto or EMQX, replicas sharing the events with a shared
// subscription) or InlineLink (the embedded broker of central/broker, in
// process, with no network connection and no broker write queue between
// the doors and the ingest).
//
// Delivery contract (see shared/protocol/README.md): a batch's events are
// committed before the ingest's MQTT PUBACK (paho) and before the
// application Ack is published, so an Ack always means "durably stored".
// (The broker PUBACKs the door on receipt either way; the door deletes its
// events on the application Ack only.) Duplicates are
// committed as no-ops and acknowledged again. A batch that cannot be decoded
// or validated is acknowledged at the MQTT level (so it does not clog the
// broker), counted and logged, and never acknowledged at the application
// level: the door keeps those events and the problem is visible. A failing
// store is retried with backoff while PUBACKs are held back (so the broker
// sends no more than its in-flight window); when it keeps failing, doors are
// committed one by one and a door whose batch still fails is PUBACKed without
// an application ack, so one door never stalls the others and the door sends
// its events again later.
//
// Backpressure: a handler waits for room in the writer's queue. With paho
// that holds the PUBACK back (one goroutine per message, the broker sending
// no more than its in-flight window); inline it holds the publishing door's
// connection, which slows that door alone, in its order. The inline wait is
// bounded (InlineLink's wait, below the doors' keepalive): a batch that
// found no room by then is not acknowledged (counted as "queue_full") and
// its door sends it again. A batch the store refuses for its own content
// (RejectedError: events in conflict with stored ones, or invalid) is taken
// out at once, without retries or backoff, and never acknowledged.
//
// Event identity (see central/store.DoorEvents): events are committed and
// acknowledged per (door, store): the identity of the door database that
// numbered them, so that a door whose numbering restarted (a new or
// restored database) is never acknowledged for events the central holds
// from another database. Each Ack names its store.
package ingest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/central/whitelist"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Batch is the events of one door's store to commit. Handed to
// Config.Committed, its events carry the central's numbers (Stored.Base +
// the store's seq), unique per door.
type Batch struct {
	Door   string
	Store  string // identity of the door database that numbered the events ("" for old doors)
	Events []protocol.Event
}

// Stream names one store of one door: what an Ack acknowledges.
type Stream struct {
	Door  string
	Store string
}

func (b *Batch) stream() Stream { return Stream{Door: b.Door, Store: b.Store} }

// EventStore commits door events.
type EventStore interface {
	// StoreEvents commits every batch idempotently on (door, store, seq) and
	// returns, per stream in the batches, the number of new events, the
	// contiguous high-water mark after the commit (every seq from 1 to it is
	// stored) and the stream's base. A batch refused for its own content
	// fails the call with a *RejectedError naming it.
	StoreEvents(ctx context.Context, receivedMs int64, batches []Batch) (map[Stream]Stored, error)
}

// Stored is the outcome of StoreEvents for one stream.
type Stored struct {
	New     int
	Through uint64
	Base    uint64 // the central's number of the store's seq 0
}

// RejectedError is a failure of StoreEvents caused by one batch's own
// content: the same batch fails the same way every time. Reason is the
// counter label ("conflict": a seq the central holds with other content;
// "invalid").
type RejectedError struct {
	Index  int // the batch's position in the call
	Reason string
	Err    error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("batch %d refused (%s): %v", e.Index, e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *RejectedError) Unwrap() error { return e.Err }

// WhitelistSource is the whitelist compiler as the ingest uses it: it answers
// a door's sync request with the signed messages that bring the door from
// version from to the current one, and tells which doors changed.
type WhitelistSource interface {
	ForSync(ctx context.Context, door string, from uint64) (whitelist.Sync, error)
	Watch() *whitelist.Watcher
	// Version is the version compiled for the door (false: unknown door).
	Version(door string) (uint64, bool)
}

// Config configures the ingest.
type Config struct {
	// Link, when set, is the ingest's connection to the broker (an
	// InlineLink to the embedded broker); otherwise the ingest connects a
	// PahoLink to Broker with the fields below.
	Link       Link
	Broker     string      // tcp://host:port, mqtt://, ssl:// or mqtts://
	Username   string      // the central's service account on the broker
	Password   string      //
	TLS        *tls.Config // for ssl:// and mqtts://
	ClientID   string      // prefix of the two client ids; default <username>-<host>-<random>
	Topics     protocol.Topics
	ShareGroup string // when set, events and sync requests use $share/<group>/...

	MaxBatchEvents int           // events per commit across doors (default 5000)
	QueueDepth     int           // batches waiting for the writer (default 1024)
	RetryBackoff   time.Duration // first store retry delay (default 100 ms, doubling to 5 s)
	Now            func() time.Time
	// Committed, when set, is called after each commit with the batches
	// that were stored (new and duplicate events alike) and their receipt
	// time. It runs on the ingest's writer and must not block: hand the
	// work to a worker of its own.
	Committed func(receivedMs int64, batches []Batch)
	// StatusSeen, when set, is called with every valid door status and its
	// receipt time (the door health of central/alerts). It runs on the
	// message's goroutine and may wait briefly.
	StatusSeen func(st protocol.Status, at time.Time)

	// Sync request throttle, per door (see syncQueue): SyncBurst answers
	// at once (default 3), then one per SyncInterval (default 2 s);
	// SyncWorkers answer doors in parallel (default 8); with the embedded
	// broker they wait while SyncWindow doors (default 64) have not
	// acknowledged their answers (see ackWindow).
	SyncBurst    int
	SyncInterval time.Duration
	SyncWorkers  int
	SyncWindow   int
	// ResyncAfter: an online door whose statuses report the same version,
	// below the one compiled for it, for this long is sent what it lacks
	// (default 2 min; see resyncBehind). ResyncEvery is how often the doors
	// are looked at (default 15 s).
	ResyncAfter time.Duration
	ResyncEvery time.Duration
}

// DoorState is what the central knows of a door's connection.
type DoorState struct {
	Status   protocol.Status
	LastSeen time.Time // when a status or batch last came from the door
	// wlSince is when the door's statuses began reporting the whitelist
	// version they report now, or when it was last sent a whitelist
	// message, whichever is later (see resyncBehind).
	wlSince time.Time
}

// Ingest runs the central's MQTT side over a Link: paho's two connections
// to an external broker (see PahoLink), or the embedded broker's inline
// client (see InlineLink).
type Ingest struct {
	cfg   Config
	store EventStore
	log   *slog.Logger
	queue chan item
	link  Link
	stop  <-chan struct{} // closed when Run's context ends

	// The whitelist publisher: the source may come and go at run time (a
	// replica becomes or stops being the whitelist leader).
	wlMu   sync.Mutex
	wl     WhitelistSource
	wlStop func() // stops the current publisher of changes
	runCtx context.Context

	mu      sync.Mutex
	doors   map[string]*DoorState
	onlineN int // doors whose status says online

	syncq     *syncQueue  // pending sync requests, per door
	window    *ackWindow  // answers the doors have not acknowledged (nil: the link cannot tell)
	rejectLog *logLimiter // lines about doors' rejected messages
	mergeLog  *logLimiter // lines about doors' merged sync requests

	events, dups, batches, storeErrs, acksSent, syncs, wlMsgs *metrics.Counter
	rejected                                                  *metrics.CounterVec
	syncsReceived, syncsMerged, rejectLogsSuppressed          *metrics.Counter
	resyncs                                                   *metrics.Counter
	latency, publishLag                                       *metrics.Histogram
	online                                                    *metrics.Gauge
}

type item struct {
	door     string
	store    string
	events   []protocol.Event
	received time.Time
	msg      Message
}

// New prepares an ingest; Run connects and serves.
func New(cfg Config, store EventStore, wl WhitelistSource, log *slog.Logger, reg *metrics.Registry) (*Ingest, error) {
	if cfg.Broker == "" && cfg.Link == nil {
		return nil, errors.New("ingest: broker address is required")
	}
	if cfg.Topics == (protocol.Topics{}) {
		cfg.Topics = protocol.DefaultTopics()
	}
	if cfg.ShareGroup != "" {
		if err := protocol.ValidID(cfg.ShareGroup); err != nil {
			return nil, fmt.Errorf("ingest: share group %q: %w", cfg.ShareGroup, err)
		}
	}
	if cfg.MaxBatchEvents <= 0 {
		cfg.MaxBatchEvents = 5000
	}
	if cfg.QueueDepth <= 0 {
		cfg.QueueDepth = 1024
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 100 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SyncBurst <= 0 {
		cfg.SyncBurst = syncBurst
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = syncInterval
	}
	if cfg.SyncWorkers <= 0 {
		cfg.SyncWorkers = syncWorkers
	}
	if cfg.SyncWindow <= 0 {
		cfg.SyncWindow = syncWindow
	}
	if cfg.ResyncAfter <= 0 {
		cfg.ResyncAfter = resyncAfter
	}
	if cfg.ResyncEvery <= 0 {
		cfg.ResyncEvery = resyncEvery
	}
	if cfg.ClientID == "" {
		host, _ := os.Hostname()
		var r [4]byte
		_, _ = rand.Read(r[:])
		user := cfg.Username
		if user == "" {
			user = "swc-central"
		}
		cfg.ClientID = user + "-" + sanitize(host) + "-" + hex.EncodeToString(r[:])
	}
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	log = log.With("component", "ingest")
	in := &Ingest{
		cfg: cfg, store: store, wl: wl, log: log,
		queue: make(chan item, cfg.QueueDepth),
		doors: map[string]*DoorState{},

		syncq:     newSyncQueue(cfg.Now, cfg.SyncBurst, cfg.SyncInterval),
		rejectLog: newLogLimiter(cfg.Now, rejectLogWindow, rejectLogBurst, log, "rejections suppressed"),
		mergeLog:  newLogLimiter(cfg.Now, rejectLogWindow, 1, log, "more sync requests merged"),

		events:    reg.Counter("swc_ingest_events_total", "Door events committed for the first time."),
		dups:      reg.Counter("swc_ingest_duplicate_events_total", "Door events received again and acknowledged again."),
		batches:   reg.Counter("swc_ingest_batches_total", "Event batches committed."),
		storeErrs: reg.Counter("swc_ingest_store_errors_total", "Failed commits of event batches (retried)."),
		acksSent:  reg.Counter("swc_ingest_acks_total", "Acknowledgements published to doors."),
		syncs:     reg.Counter("swc_whitelist_sync_requests_total", "Whitelist sync requests answered."),
		wlMsgs:    reg.Counter("swc_whitelist_messages_published_total", "Signed whitelist messages published to doors."),
		rejected:  reg.CounterVec("swc_ingest_rejected_messages_total", "Messages from doors rejected, by reason.", "reason"),
		latency:   reg.Histogram("swc_ingest_latency_seconds", "Time from receiving a batch to committing it.", metrics.LatencyBuckets()),
		publishLag: reg.Histogram("swc_whitelist_publish_lag_seconds",
			"Time from the publisher taking a door's new whitelist version from the compiler to the broker accepting its last message.",
			metrics.LatencyBuckets()),
		online: reg.Gauge("swc_doors_online", "Doors whose retained status says online."),

		syncsReceived: reg.Counter("swc_whitelist_sync_requests_received_total",
			"Valid whitelist sync requests received from doors (answered, merged or waiting)."),
		syncsMerged: reg.Counter("swc_whitelist_sync_requests_coalesced_total",
			"Sync requests merged into a request of the same door already waiting (a door asking faster than it is answered)."),
		resyncs: reg.Counter("swc_whitelist_resyncs_total",
			"Online doors sent what they lacked because their statuses kept reporting an older whitelist version (an answer or a change that never reached them)."),
		rejectLogsSuppressed: reg.Counter("swc_ingest_rejection_logs_suppressed_total",
			"Rejected messages not logged one by one because their door exceeded its log lines per window (summarised instead)."),
	}
	// The link exists from the start (Run connects it), so that Connected
	// and PublishCommand may be called at any time.
	in.link = cfg.Link
	if in.link == nil {
		in.link = NewPahoLink(PahoConfig{Broker: cfg.Broker, Username: cfg.Username, Password: cfg.Password,
			TLS: cfg.TLS, ClientID: cfg.ClientID, Logger: log})
	}
	in.window = newAckWindow(in.link, cfg.SyncWindow)
	return in, nil
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 32 {
		b = b[:32]
	}
	return string(b)
}

// Run connects to the broker, subscribes, commits batches and publishes
// whitelist changes until ctx ends.
func (in *Ingest) Run(ctx context.Context) error {
	in.stop = ctx.Done()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.writer(ctx)
	}()
	for i := 0; i < in.cfg.SyncWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.syncWorker(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.flushLogs(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		in.resyncBehind(ctx)
	}()
	// Replicas split the events; every replica keeps every door's state;
	// only the whitelist publisher takes sync requests (setWhitelist).
	// A subscription that failed at once (inline: a bad filter) is an
	// error; paho's are made on connection and logged by the link.
	for _, r := range []Result{
		in.link.Subscribe(protocol.Shared(in.cfg.ShareGroup, in.cfg.Topics.All(protocol.TopicEvents)), in.onEvents),
		in.link.Subscribe(in.cfg.Topics.All(protocol.TopicStatus), in.onStatus),
	} {
		if isDone(r) && r.Error() != nil {
			in.link.Close()
			return fmt.Errorf("ingest: %w", r.Error())
		}
	}
	if err := in.link.Connect(ctx, in.onConnect); err != nil {
		in.link.Close()
		return fmt.Errorf("ingest: %w", err)
	}
	// The role given before Run (or while it connected) starts now, under
	// the same lock, so that a SetWhitelist racing with this start is not
	// overwritten by an older value.
	in.wlMu.Lock()
	in.runCtx = ctx
	in.setWhitelist(in.wl)
	in.wlMu.Unlock()
	<-ctx.Done()
	in.SetWhitelist(nil)
	wg.Wait()
	in.link.Close()
	return nil
}

// SetWhitelist makes this ingest the whitelist publisher for src (answering
// sync requests and publishing changes), or stops that role with nil. Only
// one replica holds the role at a time; it subscribes to sync requests only
// while it does. On taking the role it sends each door it knows to be behind
// what it lacks.
func (in *Ingest) SetWhitelist(src WhitelistSource) {
	in.wlMu.Lock()
	defer in.wlMu.Unlock()
	in.setWhitelist(src)
}

// setWhitelist is SetWhitelist with wlMu held.
func (in *Ingest) setWhitelist(src WhitelistSource) {
	if in.wlStop != nil {
		in.wlStop()
		in.wlStop = nil
	}
	in.wl = src
	if in.runCtx == nil {
		return // Run starts it
	}
	syncFilter := in.cfg.Topics.All(protocol.TopicSync)
	if src == nil {
		in.link.Unsubscribe(syncFilter)
		return
	}
	ctx, cancel := context.WithCancel(in.runCtx)
	done := make(chan struct{})
	w := src.Watch()
	// Sync requests are subscribed before the doors already online are
	// caught up: a door whose status comes in after the catch-up looked
	// sends its sync request after it, and that request is then received.
	subscribed := in.link.Subscribe(syncFilter, in.onSync)
	go func() {
		defer close(done)
		defer w.Close()
		select {
		case <-subscribed.Done():
		case <-time.After(30 * time.Second):
		case <-ctx.Done():
			return
		}
		in.catchUp(ctx, src)
		in.publishChanges(ctx, src, w)
	}()
	in.wlStop = func() { cancel(); <-done }
}

// source returns the current whitelist source, nil when this ingest is not
// the publisher.
func (in *Ingest) source() WhitelistSource {
	in.wlMu.Lock()
	defer in.wlMu.Unlock()
	return in.wl
}

// catchUp sends every door whose reported version is behind what it lacks.
func (in *Ingest) catchUp(ctx context.Context, src WhitelistSource) {
	for door, st := range in.Doors() {
		if st.Status.State == protocol.StateOnline {
			in.sendWhitelist(ctx, src, door, st.Status.WLVersion)
		}
	}
}

// publishChanges sends each online door what changed in its whitelist,
// from the version before the changes the watcher reports. A door whose
// status does not say online is skipped: it asks for what it lacks when
// it connects (its status comes before its sync request, and the answer
// is made then), and a message to it would only be signed, copied and
// dropped by the broker: creating 1,000 doors signed a snapshot for each
// (2.2 GB of allocations) before any was connected.
func (in *Ingest) publishChanges(ctx context.Context, src WhitelistSource, w *whitelist.Watcher) {
	for {
		updates, err := w.Next(ctx)
		if err != nil {
			return
		}
		taken := time.Now()
		for _, u := range updates {
			if !in.isOnline(u.Door) {
				continue
			}
			if in.sendWhitelist(ctx, src, u.Door, u.Base) {
				in.publishLag.Observe(time.Since(taken).Seconds())
			}
		}
	}
}

// Connected reports whether the ingest's link to the broker is up (the
// readiness check).
func (in *Ingest) Connected() bool {
	return in.link.Connected()
}

// ErrNotConnected is returned by PublishCommand while the publishing
// connection is down.
var ErrNotConnected = errors.New("ingest: not connected to the broker")

// PublishCommand publishes a signed command (protocol.Signer.SignCommand) on
// the door's commands topic at QoS 1, over the ingest's publishing
// connection, and waits until the broker has accepted it or ctx ends. It
// fails at once with ErrNotConnected while the connection is down: a
// command is short-lived and the caller should know it did not leave.
func (in *Ingest) PublishCommand(ctx context.Context, door string, signed []byte) error {
	if err := protocol.ValidID(door); err != nil {
		return fmt.Errorf("ingest: publish command: door %q: %w", door, err)
	}
	if !in.link.Connected() {
		return ErrNotConnected
	}
	tok := in.link.Publish(in.cfg.Topics.Door(door, protocol.TopicCommands), signed)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("ingest: publish command to %s: %w", door, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest: publish command to %s: %w", door, ctx.Err())
	}
}

func (in *Ingest) onConnect() {
	if _, inline := in.link.(*InlineLink); inline {
		in.log.Info("connected to the embedded broker in process (inline client)")
		return
	}
	in.log.Info("connected to broker", "broker", in.cfg.Broker, "client_id", in.cfg.ClientID, "share_group", in.cfg.ShareGroup)
}

// reject counts and logs a bad message and acks it at the MQTT level only.
// The log line holds excerpts of what the door sent, and a door's lines are
// rate-limited (see logLimiter); the counter counts every message.
func (in *Ingest) reject(m Message, door string, err error) {
	code := protocol.Code(err)
	in.rejected.With(code).Inc()
	if in.rejectLog.allow(door, code) {
		in.logRejection(m, door, code, err)
	} else {
		in.rejectLogsSuppressed.Inc()
	}
	m.Ack()
}

// topicDoor parses the door from the topic; the ACL guarantees a door can
// only publish on its own topics, so the payload must name the same door.
func (in *Ingest) topicDoor(m Message, want string) (string, error) {
	door, kind, err := in.cfg.Topics.Parse(m.Topic())
	if err != nil {
		return "", &protocol.Error{Kind: protocol.ErrInvalid, Field: "topic", Detail: err.Error()}
	}
	if kind != want {
		return "", &protocol.Error{Kind: protocol.ErrInvalid, Field: "topic", Detail: "unexpected kind " + kind}
	}
	return door, nil
}

func (in *Ingest) onEvents(ctx context.Context, m Message) {
	received := in.cfg.Now()
	door, err := in.topicDoor(m, protocol.TopicEvents)
	if err != nil {
		in.reject(m, "", err)
		return
	}
	b, err := protocol.DecodeEventBatch(m.Payload())
	if err != nil {
		in.reject(m, door, err)
		return
	}
	if b.Door != door {
		in.reject(m, door, &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door", Detail: fmt.Sprintf("%q on the topic of %q", b.Door, door)})
		return
	}
	in.seen(door, received)
	// Waiting for room in the queue is the backpressure: with paho it holds
	// the PUBACK back (each message has its own goroutine), inline it holds
	// the door's connection (see InlineLink). The link bounds the wait; a
	// batch given up is not acknowledged and the door sends it again.
	select {
	case in.queue <- item{door: door, store: b.Store, events: b.Events, received: received, msg: m}:
	case <-in.stop:
	case <-ctx.Done():
		if in.stopping() {
			return
		}
		code := "queue_full"
		in.rejected.With(code).Inc()
		if in.rejectLog.allow(door, code) {
			in.log.Warn("the ingest's queue stayed full; the batch is not acknowledged and the door sends it again",
				"door", door, "events", len(b.Events), "queue", cap(in.queue))
		} else {
			in.rejectLogsSuppressed.Inc()
		}
		m.Ack()
	}
}

// stopping reports whether Run's context ended.
func (in *Ingest) stopping() bool {
	select {
	case <-in.stop:
		return true
	default:
		return false
	}
}

func (in *Ingest) onSync(_ context.Context, m Message) {
	door, err := in.topicDoor(m, protocol.TopicSync)
	if err != nil {
		in.reject(m, "", err)
		return
	}
	req, err := protocol.DecodeSyncRequest(m.Payload())
	if err == nil && req.Door != door {
		err = &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door"}
	}
	if err != nil {
		in.reject(m, door, err)
		return
	}
	m.Ack()
	// Not the publisher: dropped, the door asks again. Counted once
	// queued, so that a count says the requests are in the queue.
	if in.source() != nil {
		in.queueSync(door, req.From)
	}
	in.syncsReceived.Inc()
}

func (in *Ingest) onStatus(_ context.Context, m Message) {
	door, err := in.topicDoor(m, protocol.TopicStatus)
	if err != nil {
		in.reject(m, "", err)
		return
	}
	if len(m.Payload()) == 0 { // a cleared retained status
		m.Ack()
		return
	}
	st, err := protocol.DecodeStatus(m.Payload())
	if err == nil && st.Door != door {
		err = &protocol.Error{Kind: protocol.ErrWrongDoor, Field: "door"}
	}
	if err != nil {
		in.reject(m, door, err)
		return
	}
	m.Ack()
	in.mu.Lock()
	d := in.doors[door]
	if d == nil {
		d = &DoorState{}
		in.doors[door] = d
	}
	// The count changes with this door's state only (not a walk over
	// every door on each status: 10,000 doors send one every 30 s).
	if was, is := d.Status.State == protocol.StateOnline, st.State == protocol.StateOnline; was != is {
		if is {
			in.onlineN++
		} else {
			in.onlineN--
		}
	}
	seenAt := in.cfg.Now()
	if d.wlSince.IsZero() || d.Status.WLVersion != st.WLVersion || d.Status.State != st.State {
		d.wlSince = seenAt
	}
	d.Status = *st
	d.LastSeen = seenAt
	n := in.onlineN
	in.mu.Unlock()
	in.online.Set(float64(n))
	if in.cfg.StatusSeen != nil {
		in.cfg.StatusSeen(*st, seenAt)
	}
}

func (in *Ingest) seen(door string, t time.Time) {
	in.mu.Lock()
	d := in.doors[door]
	if d == nil {
		d = &DoorState{}
		in.doors[door] = d
	}
	d.LastSeen = t
	in.mu.Unlock()
}

// isOnline reports whether the door's last status says online.
func (in *Ingest) isOnline(door string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	d := in.doors[door]
	return d != nil && d.Status.State == protocol.StateOnline
}

// Doors returns what is known of every door, sorted by door id.
func (in *Ingest) Doors() map[string]DoorState {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]DoorState, len(in.doors))
	for id, d := range in.doors {
		out[id] = *d
	}
	return out
}

// sendWhitelist publishes what brings the door from version from to the
// current one and reports whether something was published.
func (in *Ingest) sendWhitelist(ctx context.Context, src WhitelistSource, door string, from uint64) bool {
	sync, err := src.ForSync(ctx, door, from)
	if err != nil {
		in.log.Warn("whitelist for door unavailable", "door", door, "from", from, "err", err)
		return false
	}
	topic := in.cfg.Topics.Door(door, protocol.TopicWhitelist)
	for _, msg := range sync.Messages {
		tok := in.link.Publish(topic, msg)
		// Bounded by ctx too: giving up the role (or stopping) must not
		// wait 30 s for every door of a catch-up while the broker is away.
		select {
		case <-tok.Done():
		case <-ctx.Done():
			return false
		case <-time.After(30 * time.Second):
		}
		if !isDone(tok) || tok.Error() != nil {
			in.log.Warn("publish whitelist failed; the door will ask again", "door", door, "err", tok.Error())
			return false
		}
		in.wlMsgs.Inc()
	}
	if len(sync.Messages) > 0 {
		in.whitelistSent(door)
	}
	return len(sync.Messages) > 0
}

// whitelistSent notes that the door was just sent a whitelist message: it
// is not resynced before it had ResyncAfter to apply it and say so (a
// slow door in a reconnect storm would otherwise be sent its snapshot
// again and again, each copy held by the broker until the door acks it).
func (in *Ingest) whitelistSent(door string) {
	now := in.cfg.Now()
	in.mu.Lock()
	if d := in.doors[door]; d != nil {
		d.wlSince = now
	}
	in.mu.Unlock()
}

// writer commits queued batches: it takes what is waiting (up to
// MaxBatchEvents events), commits it in one call, then PUBACKs the messages
// and publishes one Ack per door.
func (in *Ingest) writer(ctx context.Context) {
	for {
		var first item
		select {
		case first = <-in.queue:
		case <-ctx.Done():
			return
		}
		group := []item{first}
		n := len(first.events)
	drain:
		for n < in.cfg.MaxBatchEvents {
			select {
			case it := <-in.queue:
				group = append(group, it)
				n += len(it.events)
			default:
				break drain
			}
		}
		in.commit(ctx, group)
	}
}

func (in *Ingest) commit(ctx context.Context, group []item) {
	// Merge by stream, keeping seq order and dropping repeats within the
	// group; two different events under one seq are a conflict.
	byStream := map[Stream][]protocol.Event{}
	var streams []Stream
	for _, it := range group {
		k := Stream{Door: it.door, Store: it.store}
		if _, ok := byStream[k]; !ok {
			streams = append(streams, k)
		}
		byStream[k] = append(byStream[k], it.events...)
	}
	sort.Slice(streams, func(i, j int) bool {
		if streams[i].Door != streams[j].Door {
			return streams[i].Door < streams[j].Door
		}
		return streams[i].Store < streams[j].Store
	})
	failed := map[Stream]string{}
	// repeats counts, by stream, the events the merge dropped as a copy of
	// one already in the group: received again, so duplicates (a door that
	// sent a batch again before the first copy was committed).
	repeats := map[Stream]int{}
	batches := make([]Batch, 0, len(streams))
	for _, k := range streams {
		evs := byStream[k]
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
		out := evs[:0]
		for i, e := range evs {
			if i > 0 && e.Seq == evs[i-1].Seq {
				if e != out[len(out)-1] {
					failed[k] = "conflict"
					in.log.Error("two different events under one seq of a door's store; not acknowledged", "door", k.Door, "store", k.Store, "seq", e.Seq)
				}
				repeats[k]++
				continue
			}
			out = append(out, e)
		}
		byStream[k] = out
		if failed[k] == "" {
			batches = append(batches, Batch{Door: k.Door, Store: k.Store, Events: out})
		}
	}

	receivedMs := in.cfg.Now().UnixMilli()
	stored, refused := in.storeIsolating(ctx, receivedMs, batches)
	for k, reason := range refused {
		failed[k] = reason
	}
	ok := batches[:0:0]
	for _, b := range batches {
		if _, done := stored[b.stream()]; done && failed[b.stream()] == "" {
			ok = append(ok, b)
		}
	}
	if in.cfg.Committed != nil && (len(ok) > 0 || ctx.Err() == nil) {
		// Under the central's numbers, unique per door.
		central := make([]Batch, len(ok))
		for i, b := range ok {
			base := stored[b.stream()].Base
			evs := make([]protocol.Event, len(b.Events))
			for j, e := range b.Events {
				e.Seq += base
				evs[j] = e
			}
			central[i] = Batch{Door: b.Door, Store: b.Store, Events: evs}
		}
		// Also when the ingest is stopping: what is stored is handed over
		// (the crediting's session and the check-in cursor count on every
		// stored commit reaching them, or on a crash).
		in.cfg.Committed(receivedMs, central)
	}
	if ctx.Err() != nil {
		return // shutting down; nothing is acked, the doors send again
	}
	now := in.cfg.Now()
	newCount, committed := 0, 0
	for k, s := range stored {
		newCount += s.New
		committed += len(byStream[k]) + repeats[k]
	}
	in.events.Add(uint64(newCount))
	in.dups.Add(uint64(committed - newCount))
	for _, it := range group {
		if reason := failed[Stream{Door: it.door, Store: it.store}]; reason != "" {
			// PUBACK so the broker's window does not clog, but no
			// application ack: the door keeps the events and sends again.
			in.rejected.With(reason).Inc()
			it.msg.Ack()
			continue
		}
		in.batches.Inc()
		in.latency.Observe(now.Sub(it.received).Seconds())
		it.msg.Ack()
	}
	for _, k := range streams {
		if failed[k] == "" {
			in.publishAck(k, stored[k].Through, now)
		}
	}
}

// storeIsolating commits the batches together. A batch the store refuses
// for its own content (RejectedError) is taken out at once and the others
// committed again without it, without backoff. Other failures are retried
// with backoff; when that keeps failing it commits stream by stream so that
// one door's bad batch never stalls the others. It returns what was stored
// and, per stream not stored, the reason (the rejection counter's label).
func (in *Ingest) storeIsolating(ctx context.Context, receivedMs int64, batches []Batch) (map[Stream]Stored, map[Stream]string) {
	const attempts = 3
	failed := map[Stream]string{}
	for len(batches) > 0 {
		stored, err := in.storeWithRetry(ctx, receivedMs, batches, attempts)
		if err == nil {
			return stored, failed
		}
		var re *RejectedError
		if !errors.As(err, &re) || re.Index < 0 || re.Index >= len(batches) {
			break
		}
		b := batches[re.Index]
		failed[b.stream()] = re.Reason
		in.log.Error("a door's batch is refused; it is not acknowledged", "door", b.Door, "store", b.Store, "events", len(b.Events), "reason", re.Reason, "err", re.Err)
		batches = append(batches[:re.Index:re.Index], batches[re.Index+1:]...)
	}
	stored := map[Stream]Stored{}
	for _, b := range batches {
		if ctx.Err() != nil {
			failed[b.stream()] = "store_error"
			continue
		}
		s, err := in.storeWithRetry(ctx, receivedMs, []Batch{b}, 1)
		if err != nil {
			reason := "store_error"
			var re *RejectedError
			if errors.As(err, &re) {
				reason = re.Reason
			}
			failed[b.stream()] = reason
			in.log.Error("giving up on a door's batch for now; the door will send it again", "door", b.Door, "store", b.Store, "events", len(b.Events), "err", err)
			continue
		}
		stored[b.stream()] = s[b.stream()]
	}
	return stored, failed
}

// storeWithRetry commits, retrying failures of the store with backoff; a
// RejectedError is returned at once (retrying cannot help).
func (in *Ingest) storeWithRetry(ctx context.Context, receivedMs int64, batches []Batch, attempts int) (map[Stream]Stored, error) {
	backoff := in.cfg.RetryBackoff
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			backoff = min(backoff*2, 5*time.Second)
		}
		var stored map[Stream]Stored
		stored, err = in.store.StoreEvents(ctx, receivedMs, batches)
		if err == nil {
			return stored, nil
		}
		var re *RejectedError
		if errors.As(err, &re) {
			return nil, err
		}
		in.storeErrs.Inc()
		// A failure that is retried (a PostgreSQL deadlock between two
		// replicas' commits, a lock timeout) is a warning; the last
		// attempt's is an error (the caller then stores door by door).
		if i+1 < attempts {
			in.log.Warn("committing events failed; retrying", "batches", len(batches), "attempt", i+1, "of", attempts, "err", err)
		} else {
			in.log.Error("committing events failed", "batches", len(batches), "attempt", i+1, "err", err)
		}
	}
	return nil, err
}

func (in *Ingest) publishAck(k Stream, through uint64, now time.Time) {
	payload, err := protocol.Encode(&protocol.Ack{V: protocol.Version, Door: k.Door, Store: k.Store, Through: through, ServerMs: now.UnixMilli()})
	if err != nil {
		in.log.Error("encode ack", "door", k.Door, "store", k.Store, "err", err)
		return
	}
	// Not waited for: an ack that does not arrive makes the door send again,
	// and the repeat is acknowledged again.
	in.link.Publish(in.cfg.Topics.Door(k.Door, protocol.TopicAck), payload)
	in.acksSent.Inc()
}

// isDone reports whether a token completed.
func isDone(tok Result) bool {
	select {
	case <-tok.Done():
		return true
	default:
		return false
	}
}
