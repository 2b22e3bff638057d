package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The end-to-end ingest benchmark: simulated doors publish backlogs of
// events through the embedded broker into the store, as serve wires it
// (broker, ingest, store), measured from the first publish to the last ack.
// Each door is a paho client sending 500-event batches at QoS 1 with a small
// window, as edge/sync does. Beside it, the raw broker rate: one QoS 1
// publisher to one subscriber, same payload size, same run.
const (
	benchDoors         = 40
	benchEventsPerDoor = 2500 // 100,000 events in all
	benchBatch         = protocol.MaxBatchEvents
	benchWindow        = 4 // batches in flight per door
	benchRawMessages   = 400
	benchMembers       = 5000
)

func BenchmarkIngestEndToEnd(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchIngest(b, func() string { return "" }) })
	b.Run("postgres", func(b *testing.B) { benchIngest(b, func() string { return storetest.PostgresSchema(b) }) })
}

// benchIngest runs the doors against a fresh central per iteration; db gives
// each iteration its database ("" = SQLite in the data folder).
func benchIngest(b *testing.B, db func() string) {
	batches := make([][][]byte, benchDoors) // per door, encoded batches
	for d := range batches {
		batches[d] = encodeBacklog(b, fmt.Sprintf("door-%d", d), benchEventsPerDoor)
	}
	payload := len(batches[0][0])
	var total time.Duration
	for i := 0; i < b.N; i++ {
		s, secrets, svc := benchServer(b, db())
		took := runDoors(b, s, secrets, batches)
		total += took
		rawRate := rawBrokerRate(b, s, svc, batches[0][0])
		b.ReportMetric(rawRate*benchBatch, "raw-broker-events/s")
		b.ReportMetric(rawRate, "raw-broker-msgs/s")
		_ = s.Shutdown(context.Background())
	}
	events := float64(benchDoors * benchEventsPerDoor * b.N)
	b.ReportMetric(events/total.Seconds(), "events/s")
	b.ReportMetric(float64(payload), "batch-bytes")
}

// benchServer starts serve's wiring with real listeners and creates the
// doors, returning their secrets and the broker's service secret.
func benchServer(b *testing.B, db string) (*server.Server, []string, string) {
	b.Helper()
	dir := b.TempDir()
	cfg := server.Config{DataDir: filepath.Join(dir, "data"), HTTPAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0", DBURL: db,
		MQTTServiceSecretFile: filepath.Join(dir, "svc"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard}
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Store.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Bench", TimeZone: "Europe/Brussels"}); err != nil {
		b.Fatal(err)
	}
	secrets := make([]string, benchDoors)
	for d := range secrets {
		id := fmt.Sprintf("door-%d", d)
		if err := s.Store.CreateDoor(ctx, domain.Door{ID: id, CenterID: "c1", Name: id}); err != nil {
			b.Fatal(err)
		}
		if secrets[d], err = s.Store.RotateDoorSecret(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
	svc, err := os.ReadFile(cfg.MQTTServiceSecretFile)
	if err != nil {
		b.Fatal(err)
	}
	return s, secrets, string(bytes.TrimSpace(svc))
}

func encodeBacklog(b *testing.B, door string, n int) [][]byte {
	b.Helper()
	var out [][]byte
	now := time.Now().UnixMilli()
	for first := 1; first <= n; first += benchBatch {
		batch := protocol.EventBatch{V: protocol.Version, Door: door}
		for seq := first; seq < first+benchBatch && seq <= n; seq++ {
			// Taps spread over the network's members, as in a real month
			// (PRODUCT.md: 5,000 members), each with their own badge.
			m := (seq*7919 + len(door)) % benchMembers
			batch.Events = append(batch.Events, protocol.Event{Seq: uint64(seq), TimeMs: now + int64(seq), Trusted: true, Boot: "b1", UptimeMs: int64(seq),
				Kind: protocol.EventTap, UID: protocol.UIDFromBytes([]byte{0x04, byte(m >> 8), byte(m), 0xC3}), Member: fmt.Sprintf("member-%d", m),
				Reason: protocol.GrantedBooking, WLVersion: 1})
		}
		p, err := protocol.Encode(&batch)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// runDoors connects every door, then publishes all backlogs at once and
// waits until each door's ack covers its last event.
func runDoors(b *testing.B, s *server.Server, secrets []string, batches [][][]byte) time.Duration {
	b.Helper()
	tp := protocol.DefaultTopics()
	type door struct {
		c     mqtt.Client
		acked atomic.Uint64
		ackCh chan struct{}
	}
	doors := make([]*door, len(secrets))
	for i, secret := range secrets {
		id := fmt.Sprintf("door-%d", i)
		d := &door{ackCh: make(chan struct{}, 1)}
		opts := mqtt.NewClientOptions().AddBroker("tcp://" + s.Broker.Addr()).SetClientID(id).SetUsername(id).SetPassword(secret).
			SetCleanSession(true).SetOrderMatters(false)
		d.c = mqtt.NewClient(opts)
		if tok := d.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("door %s connect: %v", id, tok.Error())
		}
		tok := d.c.Subscribe(tp.Door(id, protocol.TopicAck), 1, func(_ mqtt.Client, m mqtt.Message) {
			a, err := protocol.DecodeAck(m.Payload())
			if err != nil {
				return
			}
			for {
				cur := d.acked.Load()
				if a.Through <= cur || d.acked.CompareAndSwap(cur, a.Through) {
					break
				}
			}
			select {
			case d.ackCh <- struct{}{}:
			default:
			}
		})
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("door %s subscribe: %v", id, tok.Error())
		}
		doors[i] = d
		defer d.c.Disconnect(0)
	}
	// A batch sent before the ingest has subscribed is lost at the broker,
	// as in real life; the doors' resend after 2 s without an ack covers it.
	start := time.Now()
	var wg sync.WaitGroup
	for i, d := range doors {
		wg.Add(1)
		go func(i int, d *door) {
			defer wg.Done()
			id := fmt.Sprintf("door-%d", i)
			topic := tp.Door(id, protocol.TopicEvents)
			last := uint64(benchEventsPerDoor)
			next := 0 // next batch to send
			lastSend := time.Now()
			for d.acked.Load() < last {
				// Keep at most benchWindow batches beyond the ack.
				ackedBatches := int(d.acked.Load()) / benchBatch
				for next < len(batches[i]) && next-ackedBatches < benchWindow {
					d.c.Publish(topic, 1, false, batches[i][next])
					next++
					lastSend = time.Now()
				}
				select {
				case <-d.ackCh:
				case <-time.After(500 * time.Millisecond):
					if time.Since(lastSend) > 2*time.Second { // resend what is unacknowledged, as a door does
						next = int(d.acked.Load()) / benchBatch
					}
				}
			}
		}(i, d)
	}
	wg.Wait()
	return time.Since(start)
}

// rawBrokerRate is one QoS 1 publisher to one subscriber through the same
// embedded broker (the service account, on a topic the ingest does not
// read), with the same payload: messages delivered per second.
func rawBrokerRate(b *testing.B, s *server.Server, secret string, payload []byte) float64 {
	b.Helper()
	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + s.Broker.Addr()).SetClientID(server.ServiceUser + "-" + id).
			SetUsername(server.ServiceUser).SetPassword(secret).SetCleanSession(true).SetOrderMatters(false))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("raw %s connect: %v", id, tok.Error())
		}
		return c
	}
	pub, sub := connect("rawpub"), connect("rawsub")
	defer pub.Disconnect(0)
	defer sub.Disconnect(0)
	const topic = "bench/raw"
	var got atomic.Int64
	done := make(chan struct{})
	tok := sub.Subscribe(topic, 1, func(mqtt.Client, mqtt.Message) {
		if got.Add(1) == benchRawMessages {
			close(done)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("raw subscribe: %v", tok.Error())
	}
	start := time.Now()
	for i := 0; i < benchRawMessages; i++ {
		pub.Publish(topic, 1, false, payload)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("raw: %d of %d messages delivered", got.Load(), benchRawMessages)
	}
	return benchRawMessages / time.Since(start).Seconds()
}
