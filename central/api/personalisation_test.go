package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/cardkeys"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestPersonalisation: a technician's station gets one card's keys (key 0
// and the door key of the current version; the card's current keys for a
// re-key), records the badge as secure, and the badge's fields show it.
func TestPersonalisation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res := f.do("tech1", "POST", "/badges/04A1B2C3D4E5F6/personalisation", map[string]any{"card_type": "ntag424dna"})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Body)
	require.Equal(t, "personalisation_unavailable", res.Err.Code)

	ring, _, err := cardkeys.LoadOrCreate(t.TempDir(), t0)
	require.NoError(t, err)
	f.srv = api.New(api.Config{Store: f.st, Metrics: metrics.NewRegistry(), Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		Now: func() time.Time { return t0 }, MaxBody: 4096, CardKeys: ring})
	require.NoError(t, f.st.CreateMember(ctx, domain.Member{ID: "m3", Name: "plain", HomeCenterID: "c1", Status: domain.MemberActive}))

	// A new card: its keys, then its registration as a secure badge.
	res = f.do("tech1", "POST", "/badges/04A1B2C3D4E5F6/personalisation", map[string]any{"card_type": "ntag424dna"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var p protocol.Personalisation
	require.NoError(t, json.Unmarshal(res.Body, &p))
	require.NoError(t, p.Validate("04A1B2C3D4E5F6", protocol.CardNTAG424DNA))
	assert.Equal(t, uint8(1), p.KeyVersion)
	want, err := ring.AppKeys("04A1B2C3D4E5F6", protocol.CardNTAG424DNA, 1)
	require.NoError(t, err)
	assert.Equal(t, want, p.Keys)
	assert.Len(t, p.Keys, 5)
	assert.Nil(t, p.Current)
	for _, k := range want {
		assert.NotContains(t, f.log.String(), string(mustText(t, k)), "keys are never logged")
	}
	assert.Contains(t, f.log.String(), "card keys handed to a personalisation station")

	res = f.do("tech1", "POST", "/badges", map[string]any{"uid": "04A1B2C3D4E5F6", "member_id": "m3", "card_type": "ntag424dna", "key_version": 1})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	b, err := f.st.Badge(ctx, "04A1B2C3D4E5F6")
	require.NoError(t, err)
	assert.Equal(t, protocol.CardNTAG424DNA, b.Card)
	assert.Equal(t, uint8(1), b.KeyVersion)

	// After a rotation: the new version's keys and the card's current ones.
	_, err = ring.Rotate(t0, t0.Add(30*24*time.Hour))
	require.NoError(t, err)
	res = f.do("tech1", "POST", "/badges/04A1B2C3D4E5F6/personalisation", map[string]any{"card_type": "ntag424dna"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.NoError(t, json.Unmarshal(res.Body, &p))
	assert.Equal(t, uint8(2), p.KeyVersion)
	require.NotNil(t, p.Current)
	assert.Equal(t, uint8(1), p.Current.KeyVersion)
	assert.Equal(t, want, p.Current.Keys)
	res = f.do("tech1", "PUT", "/badges/04A1B2C3D4E5F6/credential", api.Credential{CardType: protocol.CardNTAG424DNA, KeyVersion: 2})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	b, err = f.st.Badge(ctx, "04A1B2C3D4E5F6")
	require.NoError(t, err)
	assert.Equal(t, uint8(2), b.KeyVersion)
	res = f.do("tech1", "PUT", "/badges/04A1B2C3D4E5F6/credential", api.Credential{CardType: protocol.CardNTAG424DNA, KeyVersion: 3})
	assert.Equal(t, http.StatusBadRequest, res.Status, "a version the central does not have: %s", res.Body)

	// Refusals: a manager; another center's badge (as missing); a UID-only type.
	res = f.do("mgr1", "POST", "/badges/04A1B2C3D4E5F6/personalisation", map[string]any{"card_type": "ntag424dna"})
	assert.Equal(t, http.StatusForbidden, res.Status)
	res = f.do("tech1", "POST", "/badges/22222222/personalisation", map[string]any{"card_type": "desfire_ev2"})
	assert.Equal(t, http.StatusNotFound, res.Status, "%s", res.Body)
	res = f.do("tech1", "PUT", "/badges/22222222/credential", api.Credential{CardType: protocol.CardDESFireEV2, KeyVersion: 2})
	assert.Equal(t, http.StatusNotFound, res.Status, "%s", res.Body)
	res = f.do("tech1", "POST", "/badges/04A1B2C3D4E5F6/personalisation", map[string]any{"card_type": "uid_only"})
	assert.Equal(t, http.StatusBadRequest, res.Status)
	res = f.do("admin", "POST", "/badges/22222222/personalisation", map[string]any{"card_type": "desfire_ev2"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	require.NoError(t, json.Unmarshal(res.Body, &p))
	assert.Len(t, p.Keys, 2, "DESFire: key 0 and the door key")
}

func mustText(t *testing.T, k protocol.CardKey) []byte {
	t.Helper()
	b, err := k.MarshalText()
	require.NoError(t, err)
	return b
}
