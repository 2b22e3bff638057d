package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/edge/credential"
	"github.com/smartworkcenters/swc/edge/reader/readerfake"
	"github.com/smartworkcenters/swc/shared/desfire"
	"github.com/smartworkcenters/swc/shared/desfire/desfiresim"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// fakeStationAPI answers the two calls of a personalisation station as the
// central does (keys diversified from one master key), and records badges.
type fakeStationAPI struct {
	mu     sync.Mutex
	master []byte
	badges map[string]map[string]any
	calls  []string
}

func (f *fakeStationAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if r.Header.Get("Authorization") != "Bearer swct_tech" {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "unauthorized", "message": "unknown token"})
		return
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	switch {
	case r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/personalisation"):
		uid := protocol.UID(strings.Split(r.URL.Path, "/")[4])
		card := protocol.CardType(body["card_type"].(string))
		aid := desfire.NTAG424DiversificationAID
		if card == protocol.CardDESFireEV2 {
			aid = desfire.NetworkDESFireAID
		}
		p := protocol.Personalisation{UID: uid, CardType: card, KeyVersion: 1}
		for n := range protocol.PersonalisationKeyCount(card) {
			k, _ := desfire.CardKey(f.master, uid.Bytes(), aid, byte(n))
			p.Keys = append(p.Keys, protocol.CardKey(k))
		}
		_ = json.NewEncoder(w).Encode(p)
	case r.Method == "POST" && r.URL.Path == "/api/v1/badges":
		uid := body["uid"].(string)
		if _, ok := f.badges[uid]; ok {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(map[string]string{"code": "duplicate_badge_uid", "message": "taken"})
			return
		}
		f.badges[uid] = body
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(body)
	case r.Method == "PUT" && strings.HasSuffix(r.URL.Path, "/credential"):
		uid := strings.Split(r.URL.Path, "/")[4]
		f.badges[uid]["key_version"] = body["key_version"]
		_ = json.NewEncoder(w).Encode(f.badges[uid])
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func TestHTTPCentral(t *testing.T) {
	ctx := context.Background()
	api := &fakeStationAPI{master: []byte("station test key"), badges: map[string]map[string]any{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	station := &credential.HTTPCentral{Client: srv.Client(), Base: srv.URL, Token: "swct_tech"}

	uid := []byte{0x04, 0x51, 0xA7, 0x10, 0x80, 0x1D, 0x80}
	sim, err := desfiresim.NewNTAG424(uid, desfiresim.Options{})
	require.NoError(t, err)
	r := readerfake.New()
	require.NoError(t, r.PresentSecure(sim, 0))
	card, err := r.Next(ctx)
	require.NoError(t, err)
	done, err := credential.Enroll(ctx, card, "", "m1", station, nil)
	require.NoError(t, err)
	assert.Equal(t, protocol.CardNTAG424DNA, done.Card)
	assert.Equal(t, map[string]any{"uid": "0451A710801D80", "member_id": "m1", "card_type": "ntag424dna", "key_version": float64(1)}, api.badges["0451A710801D80"])

	// Again (as after a registration that failed): the card is done, the
	// registration goes to the credential endpoint.
	require.NoError(t, r.PresentSecure(sim, 0))
	card, err = r.Next(ctx)
	require.NoError(t, err)
	done, err = credential.Enroll(ctx, card, protocol.CardNTAG424DNA, "m1", station, nil)
	require.NoError(t, err)
	assert.Equal(t, credential.AlreadyDone, done.Outcome)
	assert.Contains(t, api.calls, "PUT /api/v1/badges/0451A710801D80/credential")

	// A refused token is explained.
	bad := &credential.HTTPCentral{Client: srv.Client(), Base: srv.URL, Token: "swct_wrong"}
	_, err = bad.Keys(ctx, "04A1B2C3", protocol.CardDESFireEV2)
	require.Error(t, err)
	assert.Contains(t, explainStation(err, "m1"), "does not accept your API token")
	require.NoError(t, r.PresentSecure(sim, 0))
	card, err = r.Next(ctx)
	require.NoError(t, err)
	_, err = credential.Enroll(ctx, card, "", "m1", bad, nil)
	assert.Contains(t, explainStation(err, "m1"), "does not accept your API token", "through Enroll's wrapping")
}
