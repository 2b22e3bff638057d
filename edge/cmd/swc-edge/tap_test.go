package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestTapUIDForms: `swc-edge tap` takes a UID in either case, grouped with
// spaces, colons or dashes, says so in its help, and the door journals the
// canonical form (upper-case hex, no separators) whatever was typed.
// (Issue 14, item 16.)
func TestTapUIDForms(t *testing.T) {
	help, _, code := swcEdge(t, "tap", "--help")
	assert.Equal(t, 0, code)
	for _, want := range []string{"either case", "spaces, colons or dashes", "04:a1:b2:c3", "upper-case hex"} {
		assert.Contains(t, help, want)
	}
	out, _, _ := swcEdge(t, "--help")
	assert.Contains(t, out, "--uid HEX", "the command list")

	s := newSite(t, "")
	_, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, entries(time.Now())))
	require.Equal(t, 0, code, errOut)
	s.start()
	forms := []struct {
		typed string
		want  protocol.UID
	}{
		{"04:a1 b2 c3", uidBooked},
		{"04a1b2c3", uidBooked},
		{" 04-A1-b2-C3 ", uidBooked},
		{"04:a1 b2-c3:d4 e5f6", uidLater},
	}
	for _, f := range forms {
		out, errOut, code := swcEdge(t, "tap", "--config", s.config, "--uid", f.typed)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, out, string(f.want)+": ", "printed in canonical form")
	}
	evs := s.outbox()
	require.Len(t, evs, len(forms))
	for i, e := range evs {
		assert.Equal(t, forms[i].want, e.UID, "journaled UID of %q", forms[i].typed)
		require.NoError(t, e.Validate(""))
	}
	assert.Equal(t, protocol.GrantedBooking, evs[0].Reason)
	assert.Equal(t, protocol.DeniedDebounce, evs[1].Reason, "the same badge, whatever its spelling")

	_, errOut, code = swcEdge(t, "tap", "--config", s.config, "--uid", "04:a1:b2")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "has 3 bytes")
}
