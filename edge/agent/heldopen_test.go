package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestHeldOpenFromTheWhitelist: a door configured with a held-open time of
// an hour receives a whitelist with held_open_s = 5 and raises
// door_held_open after 5 s of being open; the value is kept across a
// restart of the agent (offline: no whitelist comes), and a whitelist
// without it returns the door to its own.
func TestHeldOpenFromTheWhitelist(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, harnessOpts{dir: dir, heldOpen: time.Hour})
	h.start()
	rep := h.report()
	assert.Equal(t, 3600.0, rep.Door.HeldOpenSeconds)
	assert.Equal(t, "config", rep.Door.HeldOpenSource)

	ctx := context.Background()
	now := time.Now()
	parts, err := h.signer.SignSnapshot(protocol.Whitelist{Door: "door-1", Version: 1, IssuedMs: now.UnixMilli(),
		ExpiresMs: now.Add(24 * time.Hour).UnixMilli(), Center: "c-1", HeldOpenS: 5}, nil)
	require.NoError(t, err)
	for _, p := range parts {
		_, err := h.agent.ReceiveWhitelist(ctx, p)
		require.NoError(t, err)
	}
	rep = h.report()
	assert.Equal(t, 5.0, rep.Door.HeldOpenSeconds)
	assert.Equal(t, "whitelist", rep.Door.HeldOpenSource)

	// A grant opens the door, which stays open.
	_, err = h.door.Unlock(0)
	require.NoError(t, err)
	opened := time.Now()
	require.NoError(t, h.sim.SetInput("contact", true))
	heldOpen := func() bool { return strings.Contains(kinds(h.outbox()), string(protocol.EventDoorHeldOpen)) }
	h.eventually(heldOpen, "door_held_open after the whitelist's 5 s")
	assert.GreaterOrEqual(t, time.Since(opened), 5*time.Second, "not before the threshold")
	assert.Equal(t, "door_held_open", kinds(h.outbox()), "held open after a grant: not forced")
	require.NoError(t, h.sim.SetInput("contact", false))
	h.eventually(func() bool { return strings.Contains(kinds(h.outbox()), "door_closed") }, "door_closed")

	// A restart, offline: the stored whitelist's value is in force again.
	h.cancel()
	require.NoError(t, h.runErr())
	require.NoError(t, h.st.Close())
	h2 := newHarness(t, harnessOpts{dir: dir, heldOpen: time.Hour})
	h2.start()
	rep = h2.report()
	assert.Equal(t, uint64(1), rep.Whitelist.Version)
	assert.Equal(t, 5.0, rep.Door.HeldOpenSeconds, "kept across the restart")
	assert.Equal(t, "whitelist", rep.Door.HeldOpenSource)
	assert.Equal(t, 5*time.Second, h2.door.HeldOpen())

	// A whitelist without the field (an older central): the door's own.
	d := &protocol.Whitelist{Door: "door-1", Kind: protocol.Delta, Version: 2, Base: 1, IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(24 * time.Hour).UnixMilli()}
	msg, err := h2.signer.SignWhitelist(d)
	require.NoError(t, err)
	assert.NotContains(t, string(msg), "held_open")
	_, err = h2.agent.ReceiveWhitelist(ctx, msg)
	require.NoError(t, err)
	rep = h2.report()
	assert.Equal(t, 3600.0, rep.Door.HeldOpenSeconds)
	assert.Equal(t, "config", rep.Door.HeldOpenSource)
}
