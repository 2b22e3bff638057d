package e2e

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/settings"
)

// Issue 16, the held-open threshold end to end: a real swc-central and a
// real swc-edge process. The door holds the network's default threshold
// from its first whitelist; an admin stores a settings version with
// alerts.held_open_seconds = 5 from the current month through the API; the
// door's next whitelist version carries it and the door applies it (its
// local status reports 5 s, from the whitelist). A door restarted offline
// keeps it. (The door's raising door_held_open by it is
// edge/agent's TestHeldOpenFromTheWhitelist; these test doors have no
// contact.)
func TestHeldOpenSettingReachesDoor(t *testing.T) {
	n := newNetwork(t, netOpts{doors: 1})
	c, d := n.centrals[0], n.doors["door-0"]
	synced(t, d)
	heldOpen := func(want float64) func() bool {
		return func() bool {
			rep, err := d.report()
			return err == nil && rep.Door.HeldOpenSource == "whitelist" && rep.Door.HeldOpenSeconds == want
		}
	}
	eventually(t, heldOpen(settings.DefaultHeldOpenSeconds), "door-0 holds the network's default held-open time")
	before := d.whitelistVersion()

	var cur struct {
		Period  string           `json:"period"`
		Current settings.Version `json:"current"`
	}
	require.NoError(t, json.Unmarshal(c.must("GET", "/settings", nil), &cur))
	s := cur.Current.Settings
	s.Alerts.HeldOpenSeconds = 5
	c.must("PUT", "/settings", map[string]any{"effective_from": cur.Period, "settings": s, "note": "shorter held-open alarm"})
	took := eventually(t, heldOpen(5), "door-0 holds the new held-open time")
	t.Logf("held-open setting applied by the door after %v", took)
	require.Greater(t, d.whitelistVersion(), before, "a new whitelist version")

	// Offline: the door restarts without its broker and keeps the value.
	c.stop()
	d.stop()
	d.start()
	eventually(t, heldOpen(5), "door-0 keeps the held-open time across a restart offline")
}
