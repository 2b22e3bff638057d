package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/broker"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// network is one central service (or several replicas) and its doors.
type network struct {
	t         testing.TB
	centrals  []*central
	mosquitto *servicetest.Mosquitto // nil with the embedded broker
	broker    string                 // host:port doors connect to (through their proxies)
	doors     map[string]*door
	secrets   map[string]string
	key       string
	svcPass   string
}

type netOpts struct {
	mosquitto bool
	replicas  int    // central processes (default 1)
	db        string // PostgreSQL URL; "" = SQLite in the data folder
	doors     int
	mqttExtra string
	serveArgs []string // more swc-central serve flags
}

// The badges of the seeded network.
const (
	uidStaff   protocol.UID = "04A1B2C3"
	uidMember  protocol.UID = "04D1D2D3"
	uidUnknown protocol.UID = "04E1E2E3"
)

// variants runs f against the embedded broker and against Mosquitto.
func variants(t *testing.T, f func(t *testing.T, mosquitto bool)) {
	t.Run("embedded", func(t *testing.T) { f(t, false) })
	t.Run("mosquitto", func(t *testing.T) {
		servicetest.MosquittoBinary(t) // skip or fail when absent
		f(t, true)
	})
}

func newNetwork(t testing.TB, o netOpts) *network {
	t.Helper()
	if o.replicas == 0 {
		o.replicas = 1
	}
	n := &network{t: t, doors: map[string]*door{}, secrets: map[string]string{}}
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	co := centralOpts{dir: dataDir, db: o.db, args: o.serveArgs}
	if o.mosquitto {
		n.svcPass = "svc-" + fmt.Sprint(time.Now().UnixNano()) + "-secret"
		pw := filepath.Join(root, "central-password")
		require.NoError(t, os.WriteFile(pw, []byte(n.svcPass+"\n"), 0o600))
		n.mosquitto = servicetest.StartMosquittoConfigWith(t, n.mosquittoConfig(), func(dir string) { n.writeBrokerFiles(dir) })
		n.broker = n.mosquitto.Addr
		co.brokerURL, co.passwdFile = "mqtt://"+n.mosquitto.Addr, pw
	}
	for i := 0; i < o.replicas; i++ {
		co.name = fmt.Sprintf("central-%d", i)
		if i > 0 {
			// Replicas share the signing key (an operator copies the data
			// folder's signing.key); their own folders hold nothing else.
			dir := filepath.Join(root, co.name)
			require.NoError(t, os.MkdirAll(dir, 0o700))
			b, err := os.ReadFile(filepath.Join(dataDir, "signing.key"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "signing.key"), b, 0o600))
			co.dir = dir
			co.token = n.centrals[0].token // the store is shared
		}
		n.centrals = append(n.centrals, startCentral(t, co))
	}
	c := n.centrals[0]
	if !o.mosquitto {
		n.broker = c.mqttAddr
	}
	n.key = c.publicKey()

	c.must("POST", "/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	c.must("POST", "/members", map[string]any{"id": "staff-1", "name": "Sam Staff", "status": "active"})
	c.must("POST", "/members", map[string]any{"id": "m1", "name": "Mia Member", "status": "active"})
	c.must("POST", "/badges", map[string]any{"uid": uidStaff, "member_id": "staff-1"})
	c.must("POST", "/badges", map[string]any{"uid": uidMember, "member_id": "m1"})
	c.must("POST", "/staff", map[string]any{"member_id": "staff-1", "center_id": "c1"})
	for i := 0; i < o.doors; i++ {
		id := fmt.Sprintf("door-%d", i)
		c.must("POST", "/doors", map[string]any{"id": id, "center_id": "c1", "name": "Door " + id})
		var sec struct{ Secret string }
		require.NoError(t, jsonDecode(c.must("POST", "/doors/"+id+"/secret", nil), &sec))
		n.secrets[id] = sec.Secret
	}
	if n.mosquitto != nil {
		n.writeBrokerFiles(n.mosquitto.Dir)
		n.mosquitto.Reload()
	}
	for i := 0; i < o.doors; i++ {
		id := fmt.Sprintf("door-%d", i)
		n.doors[id] = startDoor(t, doorOpts{id: id, broker: n.broker, secret: n.secrets[id], key: n.key, extra: o.mqttExtra})
	}
	return n
}

func (n *network) mosquittoConfig() string {
	return fmt.Sprintf("listener {{port}} 127.0.0.1\nallow_anonymous false\npassword_file {{dir}}/passwd\nacl_file {{dir}}/acl\nmax_packet_size %d\nmax_queued_messages 100000\nmax_inflight_messages 100\n",
		protocol.MaxMessageSize+broker.DefaultPacketOverhead)
}

// writeBrokerFiles writes Mosquitto's password file (the central and every
// door created so far) and the shipped ACL policy.
func (n *network) writeBrokerFiles(dir string) {
	var pw strings.Builder
	fmt.Fprintln(&pw, servicetest.MosquittoPassword(server.ServiceUser, n.svcPass))
	for door, secret := range n.secrets {
		fmt.Fprintln(&pw, servicetest.MosquittoPassword(door, secret))
	}
	require.NoError(n.t, os.WriteFile(filepath.Join(dir, "passwd"), []byte(pw.String()), 0o600))
	acl, err := broker.MosquittoACL(protocol.DefaultTopics(), server.ServiceUser)
	require.NoError(n.t, err)
	require.NoError(n.t, os.WriteFile(filepath.Join(dir, "acl"), []byte(acl), 0o600))
}

// stored waits until the central stored every seq from 1 to want of the
// door, no more, with no gap, and the door's outbox is empty.
func (n *network) delivered(d *door, want uint64) time.Duration {
	n.t.Helper()
	c := n.centrals[0]
	took := eventually(n.t, func() bool {
		s := c.sequence(d.id)
		return s.Through == want && d.outbox() == 0
	}, "%s: all %d events stored and acknowledged", d.id, want)
	s := c.sequence(d.id)
	require.Equal(n.t, want, s.Through, "%s: contiguous high-water mark", d.id)
	require.Equal(n.t, want, s.Max, "%s: nothing beyond what the door recorded", d.id)
	require.Empty(n.t, s.Gaps, "%s: no gaps", d.id)
	return took
}
