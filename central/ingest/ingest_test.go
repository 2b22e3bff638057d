package ingest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/whitelist"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// memStore is an in-memory EventStore with the semantics the SQL stores
// have: idempotent on (door, store, seq), a conflict for a held seq with
// other content, contiguous high-water mark per stream, a slot per stream.
type memStore struct {
	mu     sync.Mutex
	events map[Stream]map[uint64]protocol.Event
	slots  map[Stream]uint64
	fail   func(batches []Batch) error
	calls  int
}

func newMemStore() *memStore {
	return &memStore{events: map[Stream]map[uint64]protocol.Event{}, slots: map[Stream]uint64{}}
}

func (s *memStore) StoreEvents(_ context.Context, _ int64, batches []Batch) (map[Stream]Stored, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(batches); err != nil {
			return nil, err
		}
	}
	for i, b := range batches {
		for _, e := range b.Events {
			if held, ok := s.events[b.stream()][e.Seq]; ok && held != e {
				return nil, &RejectedError{Index: i, Reason: "conflict", Err: fmt.Errorf("seq %d held with other content", e.Seq)}
			}
		}
	}
	out := map[Stream]Stored{}
	for _, b := range batches {
		k := b.stream()
		m := s.events[k]
		if m == nil {
			m = map[uint64]protocol.Event{}
			s.events[k] = m
			if k.Store != "" {
				n := uint64(0)
				for o, slot := range s.slots {
					if o.Door == k.Door {
						n = max(n, slot)
					}
				}
				s.slots[k] = n + 1
			}
		}
		st := out[k]
		st.Base = s.slots[k] << 32
		for _, e := range b.Events {
			if _, ok := m[e.Seq]; !ok {
				m[e.Seq] = e
				st.New++
			}
		}
		for m[st.Through+1].Seq != 0 {
			st.Through++
		}
		out[k] = st
	}
	return out, nil
}

// count is the number of events of the door, over its stores.
func (s *memStore) count(door string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, m := range s.events {
		if k.Door == door {
			n += len(m)
		}
	}
	return n
}

// memStates keeps the compiler's per-door state in memory.
type memStates struct {
	mu sync.Mutex
	m  map[string]domain.WhitelistState
}

func (s *memStates) WhitelistStates(context.Context) ([]domain.WhitelistState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []domain.WhitelistState
	for _, st := range s.m {
		out = append(out, st)
	}
	return out, nil
}

func (s *memStates) SaveWhitelistState(_ context.Context, st domain.WhitelistState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[st.Door] = st
	return nil
}

var testSigner = protocol.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))

// newCompiler returns a real whitelist compiler over a small network: one
// center with doors probe, door-a and door-b, and a staff member with a badge.
func newCompiler(t *testing.T) *whitelist.Compiler {
	t.Helper()
	in := whitelist.Input{
		Centers: []domain.Center{{ID: "c1", Name: "Center 1", TimeZone: "Europe/Brussels"}},
		Doors: []domain.Door{
			{ID: "probe", CenterID: "c1", Name: "Probe"},
			{ID: "door-a", CenterID: "c1", Name: "Door A"},
			{ID: "door-b", CenterID: "c1", Name: "Door B"},
		},
		Members: []domain.Member{{ID: "m1", Name: "Staff One", Status: domain.MemberActive}, {ID: "m2", Name: "Member Two", Status: domain.MemberActive}},
		Badges:  []domain.Badge{{UID: "04A1B2C3", MemberID: "m1"}, {UID: "04D1D2D3", MemberID: "m2"}},
		Staff:   []domain.Staff{{MemberID: "m1", CenterID: "c1"}},
	}
	c, err := whitelist.New(context.Background(), whitelist.Config{Signer: testSigner, States: &memStates{m: map[string]domain.WhitelistState{}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, in, time.Now())
	require.NoError(t, err)
	return c
}

// testBroker is a real broker the tests run on: mochi, which the ingest
// reaches through its inline client (srv), or Mosquitto, which it reaches
// with paho (srv nil). Doors connect to addr with paho.
type testBroker struct {
	addr string
	srv  *mochi.Server
}

// config points the ingest's configuration at the broker.
func (b testBroker) config(cfg Config) Config {
	if b.srv != nil {
		cfg.Link = NewInlineLink(b.srv, 0, 0)
	} else {
		cfg.Broker = b.addr
	}
	return cfg
}

// startMochi starts an embedded mochi broker with its inline client, as
// central/broker does (without its door authentication, which
// central/broker tests).
func startMochi(t *testing.T) testBroker {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InlineClient: true})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	require.NoError(t, srv.AddListener(l))
	require.NoError(t, srv.Serve())
	t.Cleanup(func() { _ = srv.Close() })
	return testBroker{addr: "tcp://" + l.Address(), srv: srv}
}

// forEachBroker runs the test on the embedded mochi broker (the ingest on
// its inline client) and on Mosquitto (the ingest on paho).
func forEachBroker(t *testing.T, test func(t *testing.T, tb testBroker)) {
	t.Run("mochi-inline", func(t *testing.T) { test(t, startMochi(t)) })
	t.Run("mosquitto-paho", func(t *testing.T) {
		m := servicetest.StartMosquitto(t, "")
		test(t, testBroker{addr: "tcp://" + m.Addr})
	})
}

type harness struct {
	mu        sync.Mutex
	committed []Batch // what the Committed hook saw

	in      *Ingest
	store   *memStore
	wl      *whitelist.Compiler
	reg     *metrics.Registry
	broker  string
	cancel  context.CancelFunc
	stopped chan error
}

func start(t *testing.T, b testBroker, store *memStore) *harness {
	t.Helper()
	h := &harness{store: store, wl: newCompiler(t), reg: metrics.NewRegistry(), broker: b.addr}
	in, err := New(b.config(Config{ShareGroup: "ingest", RetryBackoff: 5 * time.Millisecond,
		Committed: func(_ int64, bs []Batch) {
			h.mu.Lock()
			h.committed = append(h.committed, bs...)
			h.mu.Unlock()
		}}), store, h.wl,
		slog.New(slog.NewTextHandler(io.Discard, nil)), h.reg)
	require.NoError(t, err)
	h.in = in
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.stopped = cancel, make(chan error, 1)
	go func() { h.stopped <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.stopped:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("ingest did not stop")
		}
	})
	// Wait until the ingest is subscribed: a sync request gets an answer.
	// Like a real door, the probe asks again until it is answered.
	d := h.door(t, "probe")
	require.Eventually(t, func() bool {
		d.publish(t, protocol.TopicSync, `{"v":1,"door":"probe","from":0}`)
		time.Sleep(20 * time.Millisecond)
		d.mu.Lock()
		defer d.mu.Unlock()
		return len(d.got[protocol.TopicWhitelist]) > 0
	}, 10*time.Second, 50*time.Millisecond, "the ingest never subscribed")
	return h
}

// door is a real paho client playing a door.
type door struct {
	id  string
	c   mqtt.Client
	mu  sync.Mutex
	got map[string][]string
}

func (h *harness) door(t *testing.T, id string) *door {
	t.Helper()
	d := &door{id: id, got: map[string][]string{}}
	opts := mqtt.NewClientOptions().AddBroker(h.broker).SetClientID(id).SetCleanSession(true).SetOrderMatters(false)
	d.c = mqtt.NewClient(opts)
	tok := d.c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	for _, kind := range []string{protocol.TopicAck, protocol.TopicWhitelist} {
		kind := kind
		tok := d.c.Subscribe(protocol.DefaultTopics().Door(id, kind), 1, func(_ mqtt.Client, m mqtt.Message) {
			d.mu.Lock()
			d.got[kind] = append(d.got[kind], string(m.Payload()))
			d.mu.Unlock()
		})
		require.True(t, tok.WaitTimeout(5*time.Second))
		require.NoError(t, tok.Error())
	}
	t.Cleanup(func() { d.c.Disconnect(0) })
	return d
}

func (d *door) publish(t *testing.T, kind, payload string) {
	t.Helper()
	tok := d.c.Publish(protocol.DefaultTopics().Door(d.id, kind), 1, false, payload)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

func (d *door) waitFor(t *testing.T, kind string, ok func(string) bool) {
	t.Helper()
	if assert.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, p := range d.got[kind] {
			if ok(p) {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond) {
		return
	}
	// What came, read under the lock: the client's handler goroutine
	// writes d.got while messages arrive.
	d.mu.Lock()
	got := append([]string(nil), d.got[kind]...)
	d.mu.Unlock()
	t.Fatalf("door %s never got the expected %s message; got %v", d.id, kind, got)
}

func (d *door) acks(t *testing.T) []uint64 {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []uint64
	for _, p := range d.got[protocol.TopicAck] {
		a, err := protocol.DecodeAck([]byte(p))
		require.NoError(t, err)
		out = append(out, a.Through)
	}
	return out
}

func (h *harness) metrics() string {
	var sb strings.Builder
	_ = h.reg.WriteText(&sb)
	return sb.String()
}

func batch(door string, seqs ...uint64) string {
	b := protocol.EventBatch{V: protocol.Version, Door: door}
	for _, s := range seqs {
		b.Events = append(b.Events, protocol.Event{Seq: s, TimeMs: 1764158400000 + int64(s), Trusted: true, Boot: "b1",
			Kind: protocol.EventTap, UID: "04A1B2C3", Member: "m1", Reason: protocol.GrantedBooking, WLVersion: 1})
	}
	enc, err := protocol.Encode(&b)
	if err != nil {
		panic(err)
	}
	return string(enc)
}

func ackedThrough(n uint64) func(string) bool {
	return func(p string) bool {
		a, err := protocol.DecodeAck([]byte(p))
		return err == nil && a.Through == n
	}
}

func TestEventsAreCommittedThenAcked(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		h := start(t, tb, newMemStore())
		d := h.door(t, "door-a")

		d.publish(t, protocol.TopicEvents, batch("door-a", 1, 2, 3))
		d.waitFor(t, protocol.TopicAck, ackedThrough(3))
		assert.Equal(t, 3, h.store.count("door-a"))

		// A duplicate is acknowledged again and not stored twice.
		d.publish(t, protocol.TopicEvents, batch("door-a", 2, 3))
		require.Eventually(t, func() bool { return len(d.acks(t)) == 2 }, 5*time.Second, 10*time.Millisecond)
		assert.Equal(t, []uint64{3, 3}, d.acks(t))
		assert.Equal(t, 3, h.store.count("door-a"))

		// Events after a gap are stored, but the ack stays at the gap.
		d.publish(t, protocol.TopicEvents, batch("door-a", 5, 6))
		require.Eventually(t, func() bool { return len(d.acks(t)) == 3 }, 5*time.Second, 10*time.Millisecond)
		assert.Equal(t, uint64(3), d.acks(t)[2])
		assert.Equal(t, 5, h.store.count("door-a"))
		d.publish(t, protocol.TopicEvents, batch("door-a", 4))
		d.waitFor(t, protocol.TopicAck, ackedThrough(6))

		h.mu.Lock()
		var seen []uint64
		for _, b := range h.committed {
			assert.Equal(t, "door-a", b.Door)
			for _, e := range b.Events {
				seen = append(seen, e.Seq)
			}
		}
		h.mu.Unlock()
		assert.Equal(t, []uint64{1, 2, 3, 2, 3, 5, 6, 4}, seen, "the Committed hook sees every committed batch, duplicates included")

		var sb strings.Builder
		require.NoError(t, h.reg.WriteText(&sb))
		assert.Contains(t, sb.String(), "swc_ingest_events_total 6")
		assert.Contains(t, sb.String(), "swc_ingest_duplicate_events_total 2")
	})
}

// TestDuplicatesInOneCommitAreCounted: a door sends the same batch twice
// and both copies wait in the queue while the writer commits something else
// (a busy database, a loaded host), so they reach the store in one commit
// group, merged. The second copy is a duplicate all the same: acknowledged
// again, stored once and counted in swc_ingest_duplicate_events_total.
// (The merge dropped it without counting it: the server's
// TestMetricsFollowPrometheusConventions then saw 0 duplicates under load.)
func TestDuplicatesInOneCommitAreCounted(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		store := newMemStore()
		entered, gate := make(chan struct{}, 1), make(chan struct{})
		store.fail = func(batches []Batch) error {
			if batches[0].Door == "door-b" {
				entered <- struct{}{}
				<-gate // the writer holds this commit until both copies are queued
			}
			return nil
		}
		h := start(t, tb, store)
		b := h.door(t, "door-b")
		a := h.door(t, "door-a")
		b.publish(t, protocol.TopicEvents, batch("door-b", 1))
		select {
		case <-entered: // the writer is committing door-b's batch
		case <-time.After(10 * time.Second):
			t.Fatal("door-b's batch never reached the store")
		}
		a.publish(t, protocol.TopicEvents, batch("door-a", 1, 2))
		a.publish(t, protocol.TopicEvents, batch("door-a", 1, 2))
		require.Eventually(t, func() bool { return len(h.in.queue) == 2 }, 10*time.Second, time.Millisecond,
			"both copies wait for the writer")
		close(gate)
		a.waitFor(t, protocol.TopicAck, ackedThrough(2))
		assert.Equal(t, 2, store.count("door-a"), "stored once")
		assert.Equal(t, "swc_ingest_events_total 3", metricLine(h.reg, "swc_ingest_events_total"))
		assert.Equal(t, "swc_ingest_duplicate_events_total 2", metricLine(h.reg, "swc_ingest_duplicate_events_total"),
			"the second copy's two events")
		assert.Equal(t, "swc_ingest_batches_total 3", metricLine(h.reg, "swc_ingest_batches_total"))
	})
}

func TestBadMessagesAreRejectedWithoutStallingOthers(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		h := start(t, tb, newMemStore())
		a, b := h.door(t, "door-a"), h.door(t, "door-b")

		bad := map[string]string{
			"truncated":     `{"v":1,"door":"door-a","events":[`,
			"malformed":     `{"v":1,"door":"door-a","events":[}`,
			"unknown_field": `{"v":1,"door":"door-a","events":[],"x":1}`,
			"invalid":       `{"v":1,"door":"door-a","events":[{"seq":0,"time_ms":1,"boot":"b","kind":"tap","wl_version":0}]}`,
			"wrong_door":    batch("door-b", 1),
		}
		for _, p := range bad {
			a.publish(t, protocol.TopicEvents, p)
		}
		b.publish(t, protocol.TopicEvents, batch("door-b", 1, 2))
		b.waitFor(t, protocol.TopicAck, ackedThrough(2))
		assert.Equal(t, 0, h.store.count("door-a"), "nothing of door-a's bad batches is stored")
		assert.Equal(t, 2, h.store.count("door-b"), "door-a's payload naming door-b was not stored as door-b's")

		require.Eventually(t, func() bool {
			var sb strings.Builder
			_ = h.reg.WriteText(&sb)
			s := sb.String()
			for code := range bad {
				if !strings.Contains(s, fmt.Sprintf(`swc_ingest_rejected_messages_total{reason=%q} 1`, code)) {
					return false
				}
			}
			return true
		}, 5*time.Second, 10*time.Millisecond, "metrics: %s", h.metrics())
		assert.Empty(t, a.acks(t), "a rejected batch is never acknowledged at the application level")
	})
}

func TestStoreFailuresAreRetriedAndIsolated(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		store := newMemStore()
		transient := 2
		store.fail = func(batches []Batch) error {
			for _, b := range batches {
				if b.Door == "door-poison" {
					return errors.New("constraint violated")
				}
			}
			if transient > 0 {
				transient--
				return errors.New("database is locked")
			}
			return nil
		}
		h := start(t, tb, store)
		a := h.door(t, "door-a")
		a.publish(t, protocol.TopicEvents, batch("door-a", 1))
		a.waitFor(t, protocol.TopicAck, ackedThrough(1))

		p := h.door(t, "door-poison")
		p.publish(t, protocol.TopicEvents, batch("door-poison", 1))
		a.publish(t, protocol.TopicEvents, batch("door-a", 2))
		a.waitFor(t, protocol.TopicAck, ackedThrough(2))
		require.Eventually(t, func() bool {
			var sb strings.Builder
			_ = h.reg.WriteText(&sb)
			return strings.Contains(sb.String(), `swc_ingest_rejected_messages_total{reason="store_error"} 1`)
		}, 10*time.Second, 10*time.Millisecond)
		assert.Empty(t, p.acks(t), "the poisoned door got no ack, so it keeps its events")
		h.mu.Lock()
		for _, b := range h.committed {
			assert.NotEqual(t, "door-poison", b.Door, "a batch that was not stored is not reported as committed")
		}
		h.mu.Unlock()
	})
}

// whitelists opens every whitelist message the door received.
func (d *door) whitelists(t *testing.T) []*protocol.Whitelist {
	t.Helper()
	keys := protocol.NewKeyRing(testSigner.PublicKey())
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*protocol.Whitelist
	for _, p := range d.got[protocol.TopicWhitelist] {
		w, err := keys.OpenWhitelist([]byte(p), time.Now())
		require.NoError(t, err)
		out = append(out, w)
	}
	return out
}

func TestSyncAndStatus(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		h := start(t, tb, newMemStore())
		d := h.door(t, "door-a")

		// A door starting empty says it is online, then gets a signed
		// snapshot.
		d.publish(t, protocol.TopicStatus, `{"v":1,"door":"door-a","state":"online","wl_version":0}`)
		require.Eventually(t, func() bool { return h.in.Doors()["door-a"].Status.State == protocol.StateOnline }, 5*time.Second, 10*time.Millisecond)
		d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 1 }, 5*time.Second, 10*time.Millisecond)
		snap := d.whitelists(t)[0]
		assert.Equal(t, protocol.Snapshot, snap.Kind)
		require.Len(t, snap.Entries, 1)
		assert.Equal(t, protocol.UID("04A1B2C3"), snap.Entries[0].UID)

		// A door that is up to date gets nothing more (wait until the request
		// was answered before changing anything).
		answered := h.in.syncs.Value()
		d.publish(t, protocol.TopicSync, fmt.Sprintf(`{"v":1,"door":"door-a","from":%d}`, snap.Version))
		require.Eventually(t, func() bool { return h.in.syncs.Value() == answered+1 }, 5*time.Second, 10*time.Millisecond)

		// A change reaches the door as a delta from its version.
		booking := domain.Booking{ID: "bk1", MemberID: "m2", CenterID: "c1", Start: time.Now().Add(time.Hour), End: time.Now().Add(2 * time.Hour), Status: domain.BookingConfirmed}
		require.NoError(t, h.wl.Apply(context.Background(), domain.Change{Kind: domain.KindBooking, Booking: &booking}))
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 2 }, 5*time.Second, 10*time.Millisecond)
		delta := d.whitelists(t)[1]
		assert.Equal(t, protocol.Delta, delta.Kind)
		assert.NoError(t, delta.CheckFor("door-a", snap.Version), "the delta starts at the door's version")
		require.Len(t, delta.Entries, 1)
		assert.Equal(t, protocol.UID("04D1D2D3"), delta.Entries[0].UID)
		assert.Positive(t, h.in.publishLag.Count(), "the change's publication was timed")

		// Retained status keeps the door's state.
		d.publish(t, protocol.TopicStatus, `{"v":1,"door":"door-a","state":"online","wl_version":9,"outbox_depth":4}`)
		require.Eventually(t, func() bool {
			st, ok := h.in.Doors()["door-a"]
			return ok && st.Status.State == protocol.StateOnline && st.Status.OutboxDepth == 4
		}, 5*time.Second, 10*time.Millisecond)
		d.publish(t, protocol.TopicStatus, `{"v":1,"door":"door-a","state":"offline"}`)
		require.Eventually(t, func() bool { return h.in.Doors()["door-a"].Status.State == protocol.StateOffline }, 5*time.Second, 10*time.Millisecond)
		assert.Len(t, d.whitelists(t), 2, "no whitelist message was sent to an up-to-date door")

		// A change is not sent to a door that is offline (it asks when it
		// connects); door B, online, gets it, and the changes are sent in
		// order: once B has it, A was passed over.
		b := h.door(t, "door-b")
		b.publish(t, protocol.TopicStatus, `{"v":1,"door":"door-b","state":"online","wl_version":0}`)
		require.Eventually(t, func() bool { return h.in.Doors()["door-b"].Status.State == protocol.StateOnline }, 5*time.Second, 10*time.Millisecond)
		later := domain.Booking{ID: "bk2", MemberID: "m2", CenterID: "c1", Start: time.Now().Add(3 * time.Hour), End: time.Now().Add(4 * time.Hour), Status: domain.BookingConfirmed}
		require.NoError(t, h.wl.Apply(context.Background(), domain.Change{Kind: domain.KindBooking, Booking: &later}))
		require.Eventually(t, func() bool { return len(b.whitelists(t)) == 1 }, 5*time.Second, 10*time.Millisecond)
		assert.Len(t, d.whitelists(t), 2, "no whitelist message was sent to an offline door")
	})
}

func TestWhitelistRoleComesAndGoes(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		broker := tb.addr
		in, err := New(tb.config(Config{}), newMemStore(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.Run(ctx) }()
		defer func() { cancel(); <-done }()
		h := &harness{broker: broker, in: in}
		d := h.door(t, "door-a")

		// Not the whitelist publisher: the door's status is kept, its sync
		// requests go unanswered.
		tok := d.c.Publish(protocol.DefaultTopics().Door("door-a", protocol.TopicStatus), 1, true, `{"v":1,"door":"door-a","state":"online","wl_version":0}`)
		require.True(t, tok.WaitTimeout(5*time.Second))
		require.Eventually(t, func() bool { _, ok := in.Doors()["door-a"]; return ok }, 5*time.Second, 10*time.Millisecond, "the retained status reached the ingest")
		d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		time.Sleep(200 * time.Millisecond)
		assert.Empty(t, d.whitelists(t))

		// Taking the role: the door known to be behind is sent its whitelist,
		// and sync requests are answered.
		in.SetWhitelist(newCompiler(t))
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 1 }, 5*time.Second, 10*time.Millisecond, "catch-up snapshot")
		require.Eventually(t, func() bool {
			d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
			time.Sleep(50 * time.Millisecond)
			return len(d.whitelists(t)) >= 2
		}, 5*time.Second, 10*time.Millisecond, "sync answered")

		// Giving it up: no more answers. An answer to a request taken
		// before may still be on its way: wait until no door is being
		// answered and every whitelist message published has arrived.
		in.SetWhitelist(nil)
		require.Eventually(t, func() bool {
			in.syncq.mu.Lock()
			for _, sd := range in.syncq.doors {
				if sd.serving {
					in.syncq.mu.Unlock()
					return false
				}
			}
			in.syncq.mu.Unlock()
			return uint64(len(d.whitelists(t))) == in.wlMsgs.Value()
		}, 10*time.Second, 10*time.Millisecond, "the answers sent before the role was given up arrived")
		n := len(d.whitelists(t))
		d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		time.Sleep(300 * time.Millisecond)
		assert.Len(t, d.whitelists(t), n)
	})
}

// The central starts the ingest without the role and gives it once the
// whitelists are compiled (events are stored meanwhile): a door that came
// online before gets its whitelist, and its sync requests are answered.
func TestWhitelistRoleGivenWhileRunStarts(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		h := &harness{broker: tb.addr}
		d := h.door(t, "door-a")
		tok := d.c.Publish(protocol.DefaultTopics().Door("door-a", protocol.TopicStatus), 1, true, `{"v":1,"door":"door-a","state":"online","wl_version":0}`)
		require.True(t, tok.WaitTimeout(5*time.Second))

		in, err := New(tb.config(Config{}), newMemStore(), nil, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
		require.NoError(t, err)
		h.in = in
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- in.Run(ctx) }()
		defer func() { cancel(); <-done }()
		require.Eventually(t, func() bool { _, ok := in.Doors()["door-a"]; return ok }, 5*time.Second, 10*time.Millisecond, "the retained status reached the ingest")
		in.SetWhitelist(newCompiler(t))
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 1 }, 5*time.Second, 10*time.Millisecond, "catch-up snapshot of the door online before the role")
		require.Eventually(t, func() bool {
			d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
			time.Sleep(50 * time.Millisecond)
			return len(d.whitelists(t)) >= 2
		}, 5*time.Second, 10*time.Millisecond, "sync answered")
	})
}

// A door whose answer never reached it (it asked while no replica
// published whitelists, or the message was given up) reports the same old
// version in its statuses: after ResyncAfter it is sent what it lacks,
// without asking. A door that holds its compiled version is sent nothing.
//
// The ingest's clock stands still but when the test moves it, so that
// what is due depends on the test's steps only, however slow the machine;
// the resync looks at the doors every few milliseconds of real time. A
// "nothing more" is checked after giving it many looks.
func TestDoorsLeftBehindAreResynced(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		const after = time.Second
		clock := newFakeClock()
		in, h := startResync(t, tb, clock, after, newCompiler(t))

		// door-a: online, holding nothing, and no sync request.
		d := h.door(t, "door-a")
		require.Eventually(t, func() bool {
			d.publish(t, protocol.TopicStatus, `{"v":1,"door":"door-a","state":"online","wl_version":0}`)
			_, ok := in.Doors()["door-a"]
			return ok
		}, 5*time.Second, 50*time.Millisecond, "the ingest got the door's status")
		clock.Advance(after - time.Millisecond)
		looks()
		assert.Empty(t, d.whitelists(t), "a door is not resynced before ResyncAfter")
		clock.Advance(time.Millisecond)
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 1 }, 10*time.Second, 10*time.Millisecond, "the door left behind was sent its snapshot")
		snap := d.whitelists(t)[0]
		assert.Equal(t, protocol.Snapshot, snap.Kind)

		// A slow door, still behind, that asks itself just before the
		// resync is due: not sent it again before it had ResyncAfter to
		// apply its answer; then sent it again.
		clock.Advance(700 * time.Millisecond)
		d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 2 }, 10*time.Second, 10*time.Millisecond, "the door's own request answered")
		clock.Advance(600 * time.Millisecond) // past ResyncAfter after the first snapshot
		looks()
		assert.Len(t, d.whitelists(t), 2, "a door just sent its snapshot is given time to apply it")
		clock.Advance(400 * time.Millisecond) // ResyncAfter after its answer
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 3 }, 10*time.Second, 10*time.Millisecond, "still behind: sent again")

		// Up to date: nothing more, however long its statuses say so.
		d.publish(t, protocol.TopicStatus, fmt.Sprintf(`{"v":1,"door":"door-a","state":"online","wl_version":%d}`, snap.Version))
		require.Eventually(t, func() bool { return in.Doors()["door-a"].Status.WLVersion == snap.Version }, 10*time.Second, 10*time.Millisecond,
			"the ingest got the up-to-date status")
		clock.Advance(3 * after)
		looks()
		assert.Len(t, d.whitelists(t), 3, "an up-to-date door is sent nothing")
	})
}

// looks gives the resync, which looks at the doors every 20 ms in
// startResync, many looks before a "nothing more" is checked.
func looks() { time.Sleep(300 * time.Millisecond) }

// startResync runs an ingest on broker, with the clock, resyncing after
// ResyncAfter after and looking at the doors every 20 ms of real time,
// and gives it the role with src once a probe door is online and behind:
// the catch-up sends the probe its snapshot, and once the probe has it
// the catch-up has taken its list of doors, so a door that comes online
// after is left to the resync.
func startResync(t *testing.T, tb testBroker, clock *fakeClock, after time.Duration, src WhitelistSource) (*Ingest, *harness) {
	t.Helper()
	in, err := New(tb.config(Config{ResyncAfter: after, ResyncEvery: 20 * time.Millisecond, Now: clock.Now}), newMemStore(), nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	h := &harness{broker: tb.addr, in: in}
	// Through paho the ingest subscribes once connected: a status is sent
	// again until the ingest knows the door.
	probe := h.door(t, "probe")
	require.Eventually(t, func() bool {
		probe.publish(t, protocol.TopicStatus, `{"v":1,"door":"probe","state":"online","wl_version":0}`)
		_, ok := in.Doors()["probe"]
		return ok
	}, 5*time.Second, 50*time.Millisecond, "the ingest got the probe's status")
	in.SetWhitelist(src)
	require.Eventually(t, func() bool { return len(probe.whitelists(t)) == 1 }, 10*time.Second, 10*time.Millisecond, "the probe was caught up")
	return in, h
}

// gatedSource is a whitelist source whose first Version of door waits
// until released, as the compiler's does while a large recompile holds
// its lock.
type gatedSource struct {
	WhitelistSource
	door              string
	once              sync.Once
	entered, released chan struct{}
}

func (g *gatedSource) Version(door string) (uint64, bool) {
	if door == g.door {
		g.once.Do(func() {
			close(g.entered)
			<-g.released
		})
	}
	return g.WhitelistSource.Version(door)
}

// A door found behind for ResyncAfter that is sent its answer while the
// resync asks the compiler for its version (the compiler's lock held by a
// recompile) was just sent what it lacks: the resync leaves it ResyncAfter
// to apply it, as it does a door answered before it looked.
func TestResyncSkipsADoorAnsweredWhileItLooked(t *testing.T) {
	forEachBroker(t, func(t *testing.T, tb testBroker) {
		const after = time.Second
		clock := newFakeClock()
		src := &gatedSource{WhitelistSource: newCompiler(t), door: "door-a", entered: make(chan struct{}), released: make(chan struct{})}
		var release sync.Once
		t.Cleanup(func() { release.Do(func() { close(src.released) }) })
		in, h := startResync(t, tb, clock, after, src)

		d := h.door(t, "door-a")
		require.Eventually(t, func() bool {
			d.publish(t, protocol.TopicStatus, `{"v":1,"door":"door-a","state":"online","wl_version":0}`)
			_, ok := in.Doors()["door-a"]
			return ok
		}, 5*time.Second, 50*time.Millisecond, "the ingest got the door's status")
		clock.Advance(after)
		select {
		case <-src.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the resync never looked at door-a")
		}
		// The resync waits for the compiler; the door asks and is answered.
		d.publish(t, protocol.TopicSync, `{"v":1,"door":"door-a","from":0}`)
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 1 }, 10*time.Second, 10*time.Millisecond, "the door's own request answered")
		release.Do(func() { close(src.released) })
		looks()
		assert.Len(t, d.whitelists(t), 1, "a door answered while the resync looked is not sent it again at once")

		clock.Advance(after)
		require.Eventually(t, func() bool { return len(d.whitelists(t)) == 2 }, 10*time.Second, 10*time.Millisecond, "still behind ResyncAfter later: sent again")
	})
}

// unackedMochi is a mochi broker that tells how many messages a client
// has not acknowledged, as central/broker.Broker does.
type unackedMochi struct{ *mochi.Server }

func (m unackedMochi) Unacked(id string) (int, bool) {
	cl, ok := m.Clients.Get(id)
	if !ok || cl.Closed() {
		return 0, false
	}
	return cl.State.Inflight.Len(), true
}

// The sync workers wait while SyncWindow doors have not acknowledged their
// answers, so that the broker never holds more unacknowledged answers
// (snapshots of up to a megabyte) than that.
func TestSyncAnswersWaitForTheDoorsAck(t *testing.T) {
	tb := startMochi(t)
	in, err := New(Config{Link: NewInlineLink(unackedMochi{tb.srv}, 0, 0), SyncWorkers: 2, SyncWindow: 1}, newMemStore(), newCompiler(t),
		slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// door-a holds its PUBACKs until told.
	var held []mqtt.Message
	var mu sync.Mutex
	opts := mqtt.NewClientOptions().AddBroker(tb.addr).SetClientID("door-a").SetCleanSession(true).SetAutoAckDisabled(true)
	slow := mqtt.NewClient(opts)
	require.True(t, slow.Connect().WaitTimeout(5*time.Second))
	t.Cleanup(func() { slow.Disconnect(0) })
	tok := slow.Subscribe(protocol.DefaultTopics().Door("door-a", protocol.TopicWhitelist), 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		held = append(held, m)
		mu.Unlock()
	})
	require.True(t, tok.WaitTimeout(5*time.Second))
	h := &harness{broker: tb.addr, in: in}
	b := h.door(t, "door-b")

	// door-a asks once, when the ingest takes sync requests (it subscribes
	// once it holds the role, after Run connected): a door that asked
	// again would be sent a second answer, which it would not acknowledge,
	// and which would rightly hold door-b's answer back.
	syncA := protocol.DefaultTopics().Door("door-a", protocol.TopicSync)
	require.Eventually(t, func() bool { return len(tb.srv.Topics.Subscribers(syncA).InlineSubscriptions) > 0 },
		5*time.Second, 10*time.Millisecond, "the ingest subscribed to sync requests")
	require.True(t, slow.Publish(syncA, 1, false, `{"v":1,"door":"door-a","from":0}`).WaitTimeout(5*time.Second))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(held) > 0
	}, 10*time.Second, 10*time.Millisecond, "door-a was answered")
	b.publish(t, protocol.TopicSync, `{"v":1,"door":"door-b","from":0}`)
	require.Eventually(t, func() bool { return in.syncsReceived.Value() == 2 }, 10*time.Second, 10*time.Millisecond, "door-b's request was received")
	// Time for a worker to answer door-b if the window let it.
	time.Sleep(500 * time.Millisecond)
	assert.Empty(t, b.whitelists(t), "the window of one is held by door-a's answer")

	mu.Lock()
	for _, m := range held {
		m.Ack()
	}
	mu.Unlock()
	// Well within syncAckWait (10 s), after which door-a would leave the
	// window unacknowledged.
	require.Eventually(t, func() bool { return len(b.whitelists(t)) == 1 }, 5*time.Second, 10*time.Millisecond, "door-b answered once door-a acknowledged")
}
