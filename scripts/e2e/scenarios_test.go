package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/keys"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/central/store/storetest"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// slow makes a door drain its backlog in many small round trips, so that a
// fault can be injected while a backlog is on its way.
const slow = "batch_size = 50\nmax_in_flight = 1"

func (d *door) lastSeq() uint64 {
	d.t.Helper()
	rep, err := d.report()
	require.NoError(d.t, err)
	return rep.Outbox.LastSeq
}

// synced waits until the door holds a whitelist.
func synced(t testing.TB, d *door) {
	t.Helper()
	eventually(t, func() bool { return d.whitelistVersion() > 0 }, "%s received its whitelist", d.id)
}

// Scenario 1: online, a tap reaches the central database and the ack
// empties the outbox.
func TestOnline(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1})
		d := n.doors["door-0"]
		synced(t, d)
		assert.Equal(t, protocol.GrantedStaff, d.tap(uidStaff))
		assert.Equal(t, protocol.DeniedUnknownBadge, d.tap(uidUnknown))
		took := n.delivered(d, d.lastSeq())
		t.Logf("taps stored and acknowledged %v after the second tap was decided", took)
	})
}

// Scenario 2: the link is cut, 1,000 taps happen, the link returns; every
// event arrives exactly once and the outbox empties.
func TestOffline(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1})
		d := n.doors["door-0"]
		synced(t, d)
		d.link.Cut()
		res := d.burst(1000, uidUnknown)
		require.Equal(t, 1000, res.Recorded)
		assert.Equal(t, uint64(1000), d.outbox(), "the door keeps every event while offline")
		assert.Equal(t, uint64(0), n.centrals[0].sequence(d.id).Max, "nothing reached the central while offline")
		d.link.Restore()
		took := n.delivered(d, res.LastSeq)
		t.Logf("1,000 offline events stored exactly once %v after the link returned", took)
	})
}

// backlog cuts a door off, records events, gives the link back and waits
// until the central holds some but not all of them.
func backlog(t *testing.T, n *network, d *door, events int) uint64 {
	t.Helper()
	d.link.Cut()
	res := d.burst(events, uidUnknown)
	require.Equal(t, events, res.Recorded)
	d.link.Restore()
	eventually(t, func() bool { return n.centrals[0].sequence(d.id).Through > 0 }, "the backlog started to drain")
	s := n.centrals[0].sequence(d.id)
	require.Less(t, s.Through, res.LastSeq, "the fault must hit the middle of the backlog")
	t.Logf("fault injected with %d of %d events stored", s.Through, res.LastSeq)
	return res.LastSeq
}

// Scenario 3: the broker restarts in the middle of a 10,000-event backlog.
// With the embedded broker the broker is the central process, restarted
// cleanly here (scenario 4 kills it).
func TestBrokerRestart(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1, mqttExtra: slow})
		d := n.doors["door-0"]
		synced(t, d)
		last := backlog(t, n, d, 10000)
		if mosquitto {
			n.mosquitto.Stop()
			n.mosquitto.Start()
		} else {
			n.centrals[0].stop()
			n.centrals[0].start()
		}
		took := n.delivered(d, last)
		t.Logf("10,000-event backlog complete %v after the broker restart", took)
	})
}

// Scenario 4: the central is killed (SIGKILL) mid-batch and restarted.
func TestCentralKilled(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1, mqttExtra: slow})
		d := n.doors["door-0"]
		synced(t, d)
		last := backlog(t, n, d, 3000)
		n.centrals[0].kill()
		n.centrals[0].start()
		n.delivered(d, last)
	})
}

// Scenario 5: the door is killed (SIGKILL) mid-batch and restarted.
func TestEdgeKilled(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1, mqttExtra: slow})
		d := n.doors["door-0"]
		synced(t, d)
		last := backlog(t, n, d, 3000)
		d.kill()
		d.start()
		n.delivered(d, last)
	})
}

// Scenario 6: a booking made through the API opens the door; a revoked badge
// is denied; a door offline during a change gets it on reconnect.
func TestWhitelistChangesReachDoors(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1})
		c, d := n.centrals[0], n.doors["door-0"]
		synced(t, d)
		assert.Equal(t, protocol.DeniedUnknownBadge, d.tap(uidMember), "no right yet")

		v := d.whitelistVersion()
		start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
		c.must("POST", "/bookings", map[string]any{"id": "bk-1", "member_id": "m1", "center_id": "c1", "start": start, "end": start.Add(2 * time.Hour), "status": "confirmed"})
		took := eventually(t, func() bool { return d.whitelistVersion() > v }, "the booking reached the door")
		t.Logf("booking made through the API held by the door after %v", took)
		assert.Equal(t, protocol.GrantedBooking, d.tap(uidMember))

		v = d.whitelistVersion()
		c.must("PUT", "/badges/"+string(uidMember), map[string]any{"uid": uidMember, "member_id": "m1", "revoked": true})
		took = eventually(t, func() bool { return d.whitelistVersion() > v }, "the revocation reached the door")
		t.Logf("revocation held by the door after %v", took)
		assert.Equal(t, protocol.DeniedRevoked, d.tap(uidMember))

		d.link.Cut()
		v = d.whitelistVersion()
		c.must("PUT", "/badges/"+string(uidMember), map[string]any{"uid": uidMember, "member_id": "m1", "revoked": false})
		time.Sleep(500 * time.Millisecond)
		assert.Equal(t, v, d.whitelistVersion(), "an offline door cannot have the change yet")
		assert.Equal(t, protocol.DeniedRevoked, d.tap(uidMember), "offline, the door decides on what it holds")
		d.link.Restore()
		eventually(t, func() bool { return d.whitelistVersion() > v }, "the change reached the door on reconnect")
		assert.Equal(t, protocol.GrantedBooking, d.tap(uidMember))
	})
}

// attacker connects to the broker with the central's own service account
// (as a compromised or misconfigured client could) to inject messages.
func (n *network) attacker(t *testing.T) mqtt.Client {
	t.Helper()
	secret := n.svcPass
	if n.mosquitto == nil {
		b, err := readFile(n.centrals[0].dir, "..", "mqtt-service-secret")
		require.NoError(t, err)
		secret = strings.TrimSpace(b)
	}
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + n.broker).SetClientID(server.ServiceUser + "-attacker").
		SetUsername(server.ServiceUser).SetPassword(secret).SetCleanSession(true))
	tok := cl.Connect()
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { cl.Disconnect(0) })
	return cl
}

// metric reads one sample of the door's /metrics.
func (d *door) metric(sample string) float64 {
	d.t.Helper()
	return scrape(d.t, "http://"+d.http+"/metrics", sample)
}

// Scenario 7: forged, tampered, expired, replayed and gap-creating whitelist
// messages, and unsigned or expired commands, are refused and logged, and
// the door keeps working on its last good whitelist.
func TestForgedMessagesAreRefused(t *testing.T) {
	variants(t, func(t *testing.T, mosquitto bool) {
		n := newNetwork(t, netOpts{mosquitto: mosquitto, doors: 1})
		c, d := n.centrals[0], n.doors["door-0"]
		synced(t, d)
		held := d.whitelistVersion()
		key, _, err := keys.LoadOrCreate(c.dir)
		require.NoError(t, err)
		central := protocol.NewSigner(key) // what the attacker should never have; used for the replay and expiry cases
		forger := protocol.NewSigner(newKey(t))
		now := time.Now()
		wl := func(s *protocol.Signer, base, version uint64, issued time.Time, removed ...protocol.UID) []byte {
			m, err := s.SignWhitelist(&protocol.Whitelist{Door: d.id, Kind: protocol.Delta, Base: base, Version: version,
				IssuedMs: issued.UnixMilli(), ExpiresMs: issued.Add(time.Hour).UnixMilli(), Removed: removed})
			require.NoError(t, err)
			return m
		}
		valid := wl(central, held, held+1, now, uidStaff)
		cases := map[string][]byte{
			"bad_signature": []byte(strings.Replace(string(valid), `"version":`+fmt.Sprint(held+1), `"version":`+fmt.Sprint(held+2), 1)), // tampered
			"unknown_key":   wl(forger, held, held+1, now, uidStaff),                                                                     // forged
			"expired":       wl(central, held, held+1, now.Add(-2*time.Hour), uidStaff),
			"replay":        wl(central, held-1, held, now, uidStaff),
			"gap":           wl(central, held+1, held+2, now, uidStaff),
		}
		cmdUnsigned, _ := protocol.Encode(&protocol.Command{V: protocol.Version, ID: "c-1", Door: d.id, Action: protocol.ActionUnlock, Seconds: 5, IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(time.Minute).UnixMilli()})
		cmdExpired, err := central.SignCommand(&protocol.Command{ID: "c-2", Door: d.id, Action: protocol.ActionUnlock, Seconds: 5, IssuedMs: now.Add(-time.Hour).UnixMilli(), ExpiresMs: now.Add(-time.Minute).UnixMilli()})
		require.NoError(t, err)

		a := n.attacker(t)
		tp := protocol.DefaultTopics()
		for _, m := range cases {
			a.Publish(tp.Door(d.id, protocol.TopicWhitelist), 1, false, m).WaitTimeout(wait)
		}
		a.Publish(tp.Door(d.id, protocol.TopicCommands), 1, false, cmdUnsigned).WaitTimeout(wait)
		a.Publish(tp.Door(d.id, protocol.TopicCommands), 1, false, cmdExpired).WaitTimeout(wait)

		for reason := range cases {
			eventually(t, func() bool {
				return d.metric(fmt.Sprintf(`swc_edge_whitelist_messages_total{result=%q}`, reason)) >= 1
			}, "the door counted a %s whitelist message", reason)
		}
		eventually(t, func() bool {
			return d.metric(`swc_edge_commands_total{action="unknown",result="unsigned"}`) >= 1 &&
				d.metric(`swc_edge_commands_total{action="unknown",result="expired"}`)+d.metric(`swc_edge_commands_total{action="unlock",result="expired"}`) >= 1
		}, "the door counted the unsigned and the expired command")
		assert.Contains(t, d.logText(), "whitelist message refused")
		rep, err := d.report()
		require.NoError(t, err)
		assert.Equal(t, "locked", rep.Door.State, "no command unlocked the door")
		assert.Equal(t, held, rep.Whitelist.Version, "the door kept its last good whitelist")
		assert.Equal(t, protocol.GrantedStaff, d.tap(uidStaff), "and works on it: the forged removal of the staff badge was not applied")
	})
}

// Scenario 8: two central replicas on PostgreSQL and Mosquitto, 50 doors,
// 20,000 events: each stored once, both replicas took a share; one replica
// is killed mid-run and still nothing is lost.
func TestScaleOut(t *testing.T) {
	db := storetest.PostgresSchema(t)
	n := newNetwork(t, netOpts{mosquitto: true, replicas: 2, db: db, doors: 50})
	var lasts = map[string]uint64{}
	for id, d := range n.doors {
		synced(t, d)
		d.link.Cut()
		lasts[id] = d.burst(400, uidUnknown).LastSeq
	}
	for _, d := range n.doors {
		d.link.Restore()
	}
	eventually(t, func() bool {
		return n.centrals[0].metric("swc_ingest_events_total") > 0 && n.centrals[1].metric("swc_ingest_events_total") > 0
	}, "both replicas take a share")
	n.centrals[1].kill()
	for id, d := range n.doors {
		n.delivered(d, lasts[id])
	}
	var total uint64
	for _, l := range lasts {
		total += l
	}
	assert.GreaterOrEqual(t, total, uint64(20000))
}

// leader returns the replica that holds the whitelist leadership now.
func (n *network) leader(t *testing.T) (leader, other *central) {
	t.Helper()
	eventually(t, func() bool {
		for i, c := range n.centrals {
			if strings.Count(c.logText(), "now compiles and publishes") > strings.Count(c.logText(), "role given up") && c.running() {
				leader, other = c, n.centrals[1-i]
				return true
			}
		}
		return false
	}, "one replica leads the whitelists")
	return leader, other
}

// With several replicas, whitelist changes made through any replica's API
// reach the doors, and they keep doing so after the leader is killed.
func TestScaleOutWhitelist(t *testing.T) {
	db := storetest.PostgresSchema(t)
	n := newNetwork(t, netOpts{mosquitto: true, replicas: 2, db: db, doors: 1})
	d := n.doors["door-0"]
	synced(t, d)
	leader, other := n.leader(t)

	v := d.whitelistVersion()
	start := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	other.must("POST", "/bookings", map[string]any{"id": "bk-1", "member_id": "m1", "center_id": "c1", "start": start, "end": start.Add(2 * time.Hour), "status": "confirmed"})
	eventually(t, func() bool { return d.whitelistVersion() > v }, "a booking made on the follower reached the door")
	assert.Equal(t, protocol.GrantedBooking, d.tap(uidMember))

	leader.kill()
	n.centrals = []*central{other}
	n.leaderOf(t, other)
	v = d.whitelistVersion()
	other.must("PUT", "/badges/"+string(uidMember), map[string]any{"uid": uidMember, "member_id": "m1", "revoked": true})
	eventually(t, func() bool { return d.whitelistVersion() > v }, "after the leader died, the survivor took over and delivered the revocation")
	assert.Equal(t, protocol.DeniedRevoked, d.tap(uidMember))
}

// leaderOf waits until c leads the whitelists.
func (n *network) leaderOf(t *testing.T, c *central) {
	t.Helper()
	eventually(t, func() bool { return strings.Contains(c.logText(), "now compiles and publishes") }, "%s took the whitelist leadership", c.Name)
}
