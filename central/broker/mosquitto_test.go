package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

func TestMosquittoACLText(t *testing.T) {
	acl, err := MosquittoACL(protocol.DefaultTopics(), serviceUser)
	require.NoError(t, err)
	want := `pattern write swc/v1/door/%u/events
pattern write swc/v1/door/%u/sync
pattern write swc/v1/door/%u/status
pattern read swc/v1/door/%u/ack
pattern read swc/v1/door/%u/whitelist
pattern read swc/v1/door/%u/commands
pattern write swc/v1/door/%u/renew
pattern read swc/v1/door/%u/cert
`
	assert.Contains(t, acl, want)
	assert.Contains(t, acl, `user swc-central
topic read swc/v1/door/+/events
topic read $share/+/swc/v1/door/+/events
topic read swc/v1/door/+/sync
topic read $share/+/swc/v1/door/+/sync
topic read swc/v1/door/+/status
topic read $share/+/swc/v1/door/+/status
topic write swc/v1/door/+/ack
topic write swc/v1/door/+/whitelist
topic write swc/v1/door/+/commands
topic read swc/v1/door/+/renew
topic read $share/+/swc/v1/door/+/renew
topic write swc/v1/door/+/cert
`)
	assert.NotContains(t, acl, "readwrite", "no user may both read and write a topic")
	for _, line := range strings.Split(acl, "\n") {
		if !strings.HasPrefix(line, "#") {
			assert.NotContains(t, line, "#", "no user gets a multi-level wildcard")
		}
	}

	custom, err := protocol.NewTopics("coop/test")
	require.NoError(t, err)
	acl, err = MosquittoACL(custom, serviceUser)
	require.NoError(t, err)
	assert.Contains(t, acl, "pattern read coop/test/door/%u/whitelist\n")

	_, err = MosquittoACL(custom, "bad user")
	assert.Error(t, err)
}

// TestMosquittoACLMatchesHook evaluates the generated door rules the way
// Mosquitto does (%u replaced by the username, then exact match, since the
// rules have no wildcards) and compares with the hook's ACL for a table of
// topics and filters.
func TestMosquittoACLMatchesHook(t *testing.T) {
	acl, err := MosquittoACL(tp, serviceUser)
	require.NoError(t, err)
	type rule struct{ access, pattern string }
	var rules []rule
	for _, line := range strings.Split(acl, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "pattern" {
			rules = append(rules, rule{f[1], f[2]})
		}
	}
	allowed := func(door, access, topic string) bool {
		for _, r := range rules {
			if r.access == access && strings.ReplaceAll(r.pattern, "%u", door) == topic {
				return true
			}
		}
		return false
	}
	var topics []string
	for _, d := range []string{"door-a", "door-b", "+", "#"} {
		for _, k := range append(topicKinds, "other") {
			topics = append(topics, tp.Door(d, k))
		}
	}
	topics = append(topics, "#", "swc/v1/#", "$SYS/broker/uptime", protocol.Shared("g", tp.All(protocol.TopicEvents)), "swc/v1/door/door-a")
	for _, topic := range topics {
		assert.Equal(t, tp.DoorMayPublish("door-a", topic), allowed("door-a", "write", topic), "publish %s", topic)
		assert.Equal(t, tp.DoorMaySubscribe("door-a", topic), allowed("door-a", "read", topic), "subscribe %s", topic)
	}
}

// TestDoorIsolationMosquitto runs the same isolation suite against a real
// Mosquitto configured with the generated ACL and a password file (the
// shipped configuration will use certificates with use_identity_as_username;
// the ACL is the same). It needs SWC_TEST_MOSQUITTO.
func TestDoorIsolationMosquitto(t *testing.T) {
	servicetest.MosquittoBinary(t)
	dir := t.TempDir()
	acl, err := MosquittoACL(tp, serviceUser)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acl"), []byte(acl), 0o600))
	var pw strings.Builder
	for user, secret := range map[string]string{serviceUser: serviceSecret, "door-a": testDoors["door-a"], "door-b": testDoors["door-b"]} {
		fmt.Fprintln(&pw, servicetest.MosquittoPassword(user, secret))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "passwd"), []byte(pw.String()), 0o600))
	m := servicetest.StartMosquitto(t, fmt.Sprintf("allow_anonymous false\npassword_file %s\nacl_file %s\nmax_packet_size %d\n",
		filepath.Join(dir, "passwd"), filepath.Join(dir, "acl"), protocol.MaxMessageSize+DefaultPacketOverhead))
	tg := &target{name: "mosquitto", addr: m.Addr, scheme: "tcp"}

	_, err = tg.dial(t, "door-a", "secret-b", "door-a")
	assert.Error(t, err, "wrong secret")
	_, err = tg.dial(t, "", "", "door-a")
	assert.Error(t, err, "anonymous")
	doorIsolation(t, tg)
	if t.Failed() {
		t.Log(m.Log())
	}
}

// mosquittoHash writes a password in Mosquitto's "$6$" form: base64 salt and
// base64 SHA-512 of the password followed by the salt.

// TestShippedACLIsGenerated keeps scripts/mosquitto/swc.acl (what operators
// install) identical to the policy of the embedded broker's hook.
// Regenerate it with: SWC_WRITE_ACL=1 go test ./central/broker -run TestShippedACLIsGenerated
func TestShippedACLIsGenerated(t *testing.T) {
	want, err := MosquittoACL(protocol.DefaultTopics(), "swc-central")
	require.NoError(t, err)
	path := filepath.Join("..", "..", "scripts", "mosquitto", "swc.acl")
	if os.Getenv("SWC_WRITE_ACL") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, string(got), "scripts/mosquitto/swc.acl differs from MosquittoACL; regenerate it (see the test's comment)")
}
