package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// withEnroll gives the fixture's API an enrollment service on a clock the
// test moves.
func withEnroll(t *testing.T, f *fixture) (*enroll.CA, *time.Time) {
	t.Helper()
	clock := t0
	f.reg = metrics.NewRegistry() // the fixture's API registered its counters in the old one
	ca, _, err := enroll.NewCA("test CA", clock)
	require.NoError(t, err)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	svc, err := enroll.NewService(enroll.Config{CA: ca, Store: f.st, SigningKeys: []string{protocol.FormatPublicKey(pub)},
		Broker: "mqtts://central.test:8883", ServiceUsername: "swc-central", Now: func() time.Time { return clock },
		Logger: slog.New(slog.NewTextHandler(f.log, nil)), Metrics: f.reg})
	require.NoError(t, err)
	f.srv = api.New(api.Config{Store: f.st, Metrics: f.reg, Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		Now: func() time.Time { return clock }, MaxBody: 4096, Enroll: svc})
	return ca, &clock
}

func newCSR(t *testing.T) string {
	t.Helper()
	key, err := enroll.NewKey()
	require.NoError(t, err)
	csr, err := enroll.NewCSR(key, "")
	require.NoError(t, err)
	return string(csr)
}

func TestEnrollmentTokens(t *testing.T) {
	f := newFixture(t)
	ca, _ := withEnroll(t, f)
	tests := []struct {
		who, door string
		body      any
		status    int
		field     string
	}{
		{"tech1", "d1", nil, 201, ""},
		{"tech1", "d1", map[string]any{"ttl_minutes": 30}, 201, ""},
		{"mgr1", "d1", nil, 201, ""},
		{"admin", "d2", nil, 201, ""},
		{"tech1", "d2", nil, 404, ""},
		{"mgr1", "d2", nil, 404, ""},
		{"admin", "nope", nil, 404, ""},
		{"tech1", "d1", map[string]any{"ttl_minutes": 20000}, 400, "ttl_minutes"},
		{"tech1", "d1", map[string]any{"ttl": 5}, 400, "ttl"},
		{"", "d1", nil, 401, ""},
	}
	for _, tc := range tests {
		res := f.do(tc.who, "POST", "/doors/"+tc.door+"/enrollments", tc.body)
		require.Equal(t, tc.status, res.Status, "%s %s %v: %s", tc.who, tc.door, tc.body, res.Body)
		assert.Equal(t, tc.field, res.Err.Field)
		if tc.status != 201 {
			continue
		}
		var tok enroll.Token
		require.NoError(t, json.Unmarshal(res.Body, &tok))
		assert.Equal(t, tc.door, tok.Door)
		assert.Equal(t, tc.who, tok.CreatedBy)
		assert.True(t, strings.HasPrefix(tok.Secret, enroll.TokenPrefix))
		assert.Equal(t, ca.Fingerprint(), tok.CAFingerprint)
		ttl := 24 * time.Hour
		if tc.body != nil {
			ttl = 30 * time.Minute
		}
		assert.Equal(t, t0.Add(ttl).UnixMilli(), tok.ExpiresMs)
		// Over plain HTTP the command carries the request's URL and no pin.
		assert.Equal(t, "sudo swc-edge provision --central http://example.com --door "+tc.door+" --token "+tok.Secret, tok.Provision)
	}
}

func TestEnrollEndpoint(t *testing.T) {
	f := newFixture(t)
	_, clock := withEnroll(t, f)
	newToken := func(door string, minutes int) string {
		res := f.do("tech1", "POST", "/doors/"+door+"/enrollments", map[string]any{"ttl_minutes": minutes})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
		var tok enroll.Token
		require.NoError(t, json.Unmarshal(res.Body, &tok))
		return tok.Secret
	}
	token := newToken("d1", 60)
	csr := newCSR(t)

	// Refused for its contents: the token is not spent.
	for _, tc := range []struct {
		name, body, code, field string
		status                  int
	}{
		{"not JSON", `{"v":1,`, "invalid", "", 400},
		{"unknown field", `{"v":1,"token":"x","csr":"y","door":"d2"}`, "invalid", "door", 400},
		{"no CSR", `{"v":1,"token":"` + token + `"}`, "invalid", "csr", 400},
		{"a certificate for a CSR", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: strings.ReplaceAll(csr, "CERTIFICATE REQUEST", "CERTIFICATE")}), "invalid", "csr", 400},
		{"a damaged CSR", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: strings.Replace(csr, csr[100:110], "AAAAAAAAAA", 1)}), "invalid", "csr", 400},
		{"unknown token", mustJSON(t, protocol.EnrollRequest{V: 1, Token: "swce_unknown", CSR: csr}), "token_unknown", "token", 401},
		{"a CSR naming another door", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: doorCSR(t, "d2")}), "wrong_door", "csr", 400},
		{"a CSR naming an unknown door", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: doorCSR(t, "d9")}), "wrong_door", "csr", 400},
	} {
		res := f.do("", "POST", "/enroll", tc.body)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		assert.Equal(t, tc.code, res.Err.Code, tc.name)
		assert.Equal(t, tc.field, res.Err.Field, tc.name)
	}
	res := f.do("", "POST", "/enroll", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: csr}), "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, res.Status)

	// Enrolled, without any API token: the door's next sequence follows the
	// central's event of d1.
	res = f.do("", "POST", "/enroll", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: csr}))
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	e, err := protocol.DecodeEnrollment(res.Body)
	require.NoError(t, err)
	assert.Equal(t, "d1", e.Door)
	assert.Equal(t, uint64(2), e.NextSeq)
	assert.Equal(t, "mqtts://central.test:8883", e.Broker)

	// Once only.
	res = f.do("", "POST", "/enroll", mustJSON(t, protocol.EnrollRequest{V: 1, Token: token, CSR: newCSR(t)}))
	require.Equal(t, http.StatusUnauthorized, res.Status)
	assert.Equal(t, "token_used", res.Err.Code)
	assert.Contains(t, res.Err.Message, "already used")

	// Expired.
	short := newToken("d1", 1)
	*clock = clock.Add(time.Minute)
	res = f.do("", "POST", "/enroll", mustJSON(t, protocol.EnrollRequest{V: 1, Token: short, CSR: csr}))
	require.Equal(t, http.StatusUnauthorized, res.Status)
	assert.Equal(t, "token_expired", res.Err.Code)
	assert.Contains(t, res.Err.Message, "expired")

	// Every refusal was logged and counted.
	assert.Contains(t, f.log.String(), "enrollment refused")
	var b bytes.Buffer
	require.NoError(t, f.reg.WriteText(&b))
	for _, want := range []string{`swc_api_rejects_total{code="token_used"} 1`, `swc_api_rejects_total{code="token_expired"} 1`,
		`swc_api_rejects_total{code="token_unknown"} 1`, `swc_enrollments_total{result="ok"} 1`, `swc_enrollments_total{result="token_used"} 1`} {
		assert.Contains(t, b.String(), want)
	}
}

func TestEnrollmentUnavailable(t *testing.T) {
	f := newFixture(t)
	res := f.do("", "POST", "/enroll", mustJSON(t, protocol.EnrollRequest{V: 1, Token: "swce_x", CSR: newCSR(t)}))
	require.Equal(t, http.StatusServiceUnavailable, res.Status)
	assert.Equal(t, "enrollment_unavailable", res.Err.Code)
	res = f.do("admin", "POST", "/doors/d1/enrollments", nil)
	require.Equal(t, http.StatusServiceUnavailable, res.Status)
}

func TestTechnicianRegistersBadges(t *testing.T) {
	f := newFixture(t)
	require.NoError(t, f.st.CreateMember(context.Background(), domain.Member{ID: "m3", Name: "plain", HomeCenterID: "c1", Status: domain.MemberActive}))
	res := f.do("tech1", "POST", "/badges", domain.Badge{UID: "04A1B2C3D4E5F6", MemberID: "m3"})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	res = f.do("tech1", "POST", "/badges", domain.Badge{UID: "04A1B2C3D4E5F9", MemberID: "m1"})
	require.Equal(t, http.StatusForbidden, res.Status, "m1 is staff of c1: more than a technician may grant")
	res = f.do("tech1", "POST", "/badges", domain.Badge{UID: "04A1B2C3D4E5F7", MemberID: "m2"})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "a member of another center is answered as a missing one")
	res = f.do("tech1", "POST", "/badges", domain.Badge{UID: "04A1B2C3D4E5F8", MemberID: "n1"})
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "a nomadic member is the cooperative's")
	res = f.do("tech1", "POST", "/badges", domain.Badge{UID: "04A1B2C3D4E5F6", MemberID: "m3"})
	require.Equal(t, http.StatusConflict, res.Status)
	assert.Equal(t, "duplicate_badge_uid", res.Err.Code)
}

// doorCSR is a certificate request that names door, as `swc-edge provision
// --door` makes it.
func doorCSR(t *testing.T, door string) string {
	t.Helper()
	key, err := enroll.NewKey()
	require.NoError(t, err)
	csr, err := enroll.NewCSR(key, door)
	require.NoError(t, err)
	return string(csr)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
