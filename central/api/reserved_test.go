package api_test

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
)

// TestReservedDoorIDs creates doors whose ids are, or start with, the
// names the central's own MQTT clients use (the service user and its
// client ids, the shared-subscription groups, the broker's certificate
// name, and the user an external broker is configured with): each is
// refused with a clear error naming the field, in any letter case; ids
// that merely contain such a name are fine.
func TestReservedDoorIDs(t *testing.T) {
	f := newFixture(t)
	f.srv = api.New(api.Config{Store: f.st, Logger: slog.New(slog.NewTextHandler(f.log, nil)), Now: func() time.Time { return t0 },
		ReservedIDs: []string{"mqtt-svc", "replica-group"}})
	for _, id := range []string{"swc-central", "SWC-Central", "swc-central-2", "swc-central-host-0a1b2c3d", "swc-central-renew-x",
		"swc-ingest", "swc-ingest-renew", "swc-broker", "mqtt-svc", "MQTT-SVC-1", "replica-group-renew"} {
		res := f.do("admin", "POST", "/doors", domain.Door{ID: id, CenterID: "c1", Name: "n"})
		require.Equal(t, http.StatusBadRequest, res.Status, "%s: %s", id, res.Body)
		require.Equal(t, "reserved_id", res.Err.Code, id)
		require.Equal(t, "id", res.Err.Field, id)
		require.Contains(t, res.Err.Message, "reserved", id)
		_, err := f.st.Door(t.Context(), id)
		require.Error(t, err, "%s was not created", id)
	}
	for _, id := range []string{"gent-swc-central", "swc-gent-front", "central", "ingest-1"} {
		res := f.do("admin", "POST", "/doors", domain.Door{ID: id, CenterID: "c1", Name: "n"})
		require.Equal(t, http.StatusCreated, res.Status, "%s: %s", id, res.Body)
	}
}
