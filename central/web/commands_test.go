package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestDoorCommands sends signed commands from the door page's buttons and
// through the API: the door, a real MQTT client, receives commands that
// verify against the central's key, with fresh ids and a short expiry, and
// each one is in the audit log.
func TestDoorCommands(t *testing.T) {
	n := startNetwork(t)
	keys := protocol.NewKeyRing(n.srv.Signer.PublicKey())
	d1 := n.doors["d1"]
	received := func(k int) *protocol.Command {
		t.Helper()
		require.Eventually(t, func() bool { return len(d1.commands()) >= k }, 5*time.Second, 10*time.Millisecond)
		cmd, err := keys.OpenCommand(d1.commands()[k-1], "d1", time.Now())
		require.NoError(t, err, "the door accepts the signed command")
		return cmd
	}

	tech := n.login("tech1")
	before := time.Now()
	code, body, hdr := tech.post("/doors/d1/commands", url.Values{"csrf": {tech.csrf}, "action": {"unlock"}, "seconds": {"7"}})
	require.Equal(t, http.StatusSeeOther, code, body)
	require.Equal(t, "/doors/d1", hdr.Get("Location"))
	cmd := received(1)
	assert.Equal(t, protocol.ActionUnlock, cmd.Action)
	assert.Equal(t, 7, cmd.Seconds)
	assert.Equal(t, tech.id, cmd.By)
	assert.Equal(t, api.CommandLifetime, time.Duration(cmd.ExpiresMs-cmd.IssuedMs)*time.Millisecond)
	assert.GreaterOrEqual(t, cmd.IssuedMs, before.UnixMilli()-1000)
	_, page := tech.get("/doors/d1")
	assert.Contains(t, page, "Sent unlock for 7 s (command "+cmd.ID+")", "the page says what was sent")
	_, page = tech.get("/doors/d1")
	assert.NotContains(t, page, cmd.ID, "the message is shown once")

	code, _, _ = tech.post("/doors/d1/commands", url.Values{"csrf": {tech.csrf}, "action": {"resync"}})
	require.Equal(t, http.StatusSeeOther, code)
	cmd2 := received(2)
	assert.Equal(t, protocol.ActionResync, cmd2.Action)
	assert.NotEqual(t, cmd.ID, cmd2.ID, "every command has a fresh id")

	// The API goes through the same code.
	status, raw := n.apiAs("tech1", "POST", "/doors/d1/commands", api.CommandRequest{Action: "relock"})
	require.Equal(t, http.StatusAccepted, status, "%s", raw)
	cmd3 := received(3)
	assert.Equal(t, protocol.ActionRelock, cmd3.Action)
	assert.Contains(t, string(raw), cmd3.ID)

	// Refusals send nothing: a bad number of seconds, another center's
	// door, a manager.
	code, body, _ = tech.post("/doors/d1/commands", url.Values{"csrf": {tech.csrf}, "action": {"unlock"}, "seconds": {"99"}})
	require.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "Not sent:")
	code, body, _ = tech.post("/doors/d1/commands", url.Values{"csrf": {tech.csrf}, "action": {"unlock"}, "seconds": {"five"}})
	require.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "how many seconds")
	code, _, _ = tech.post("/doors/d2/commands", url.Values{"csrf": {tech.csrf}, "action": {"resync"}})
	require.Equal(t, http.StatusNotFound, code, "another center's door is answered as a missing one")
	mgr := n.login("mgr1")
	code, _, _ = mgr.post("/doors/d1/commands", url.Values{"csrf": {mgr.csrf}, "action": {"resync"}})
	require.Equal(t, http.StatusForbidden, code)
	status, _ = n.apiAs("mgr1", "POST", "/doors/d1/commands", api.CommandRequest{Action: "resync"})
	require.Equal(t, http.StatusForbidden, status)
	time.Sleep(200 * time.Millisecond)
	assert.Len(t, d1.commands(), 3, "no refused command reached the door")
	assert.Empty(t, n.doors["d2"].commands())

	audit := n.log.lines(map[string]any{"msg": "audit: door command sent", "door": "d1"})
	require.Len(t, audit, 3)
	for i, c := range []*protocol.Command{cmd, cmd2, cmd3} {
		assert.Equal(t, c.ID, audit[i]["command"])
		assert.Equal(t, []string{tech.id, tech.id, "tech1"}[i], audit[i]["by"], "the web's staff account, then the API's token")
		assert.Equal(t, "technician", audit[i]["role"])
	}
	assert.True(t, strings.Contains(n.log.String(), `"msg":"api: door command not sent"`), "refusals are logged too")
}
