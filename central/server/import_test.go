package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestImportReachesDoors: a region imported in one request (POST
// /api/v1/import) is compiled as if its objects had been created one by
// one: the door of an imported center gets a whitelist listing the
// imported member who holds a pass there, and a second import (a badge)
// reaches the door as a delta.
func TestImportReachesDoors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, _ := start(t, server.Config{DataDir: dir})
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	keys := protocol.NewKeyRing(s.Signer.PublicKey())

	now := time.Now().UTC().Truncate(time.Second)
	bundle := fmt.Sprintf(`{
 "centers": [{"id": "ci1", "name": "Imported", "time_zone": "Europe/Brussels"}, {"id": "ci2", "name": "Other", "time_zone": "Europe/Lisbon"}],
 "doors": [{"id": "door-i1", "center_id": "ci1", "name": "Front"}, {"id": "door-i2", "center_id": "ci2", "name": "Front"}],
 "members": [{"id": "mi1", "name": "Ann", "status": "active"}, {"id": "mi2", "name": "Bob", "status": "active"}],
 "badges": [{"uid": "04A1B2C3", "member_id": "mi1"}],
 "passes": [{"id": "pi1", "member_id": "mi1", "valid_from": %q, "valid_until": %q, "center_ids": ["ci1"]},
            {"id": "pi2", "member_id": "mi2", "valid_from": %q, "valid_until": %q, "center_ids": ["ci1"]}]
}`, now.Add(-time.Hour).Format(time.RFC3339), now.Add(48*time.Hour).Format(time.RFC3339),
		now.Add(-time.Hour).Format(time.RFC3339), now.Add(48*time.Hour).Format(time.RFC3339))
	var in map[string]any
	require.NoError(t, json.Unmarshal([]byte(bundle), &in))
	code, body := call(t, s, token, "POST", "/api/v1/import", in)
	require.Equal(t, 201, code, "%s", body)

	code, body = call(t, s, token, "POST", "/api/v1/doors/door-i1/secret", nil)
	require.Equal(t, 200, code, "%s", body)
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(body, &sec))
	d, err := connectDoor(t, s, "door-i1", sec.Secret)
	require.NoError(t, err)

	snap := d.firstWhitelist(t, keys)
	require.Equal(t, protocol.Snapshot, snap.Kind)
	require.Len(t, snap.Entries, 1)
	require.Equal(t, protocol.UID("04A1B2C3"), snap.Entries[0].UID)
	require.Equal(t, "mi1", snap.Entries[0].Member)

	// mi2's badge, imported alone, reaches the door as a delta; the other
	// center's door does not list it.
	code, body = call(t, s, token, "POST", "/api/v1/import", map[string]any{"badges": []map[string]any{{"uid": "04D5E6F7", "member_id": "mi2"}}})
	require.Equal(t, 201, code, "%s", body)
	require.Eventually(t, func() bool { return len(d.received(protocol.TopicWhitelist)) >= 2 }, 5*time.Second, 10*time.Millisecond)
	delta, err := keys.OpenWhitelist(d.received(protocol.TopicWhitelist)[1], time.Now())
	require.NoError(t, err)
	require.NoError(t, delta.CheckFor("door-i1", snap.Version))
	require.Len(t, delta.Entries, 1)
	require.Equal(t, protocol.UID("04D5E6F7"), delta.Entries[0].UID)
	entries, _, err := s.Whitelist().Entries("door-i2")
	require.NoError(t, err)
	require.Empty(t, entries)
}
