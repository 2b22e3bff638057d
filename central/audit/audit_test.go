package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
)

func TestActorInContext(t *testing.T) {
	ctx := context.Background()
	_, ok := audit.ActorFrom(ctx)
	require.False(t, ok)
	require.Equal(t, audit.Actor{Kind: audit.KindSystem, ID: audit.Unattributed}, audit.ActorOr(ctx))
	a := audit.Actor{Kind: audit.KindAPIToken, ID: "t1", Role: "manager", Centers: []string{"c1"}}
	got, ok := audit.ActorFrom(audit.WithActor(ctx, a))
	require.True(t, ok)
	require.Equal(t, a, got)
	require.Equal(t, audit.System("crediting"), audit.ActorOr(audit.WithSystem(ctx, "crediting")))
}

func TestFromRequest(t *testing.T) {
	for _, tc := range []struct{ remote, agent, ip, wantAgent string }{
		{"192.0.2.1:1234", "curl/8.0", "192.0.2.1", "curl/8.0"},
		{"[2001:db8::1]:443", "a\r\nb\x00c", "2001:db8::1", "abc"},
		{"pipe", strings.Repeat("é", 100), "pipe", strings.Repeat("é", 60)}, // 120 bytes, whole runes
		{"192.0.2.2:1", "x" + strings.Repeat("é", 100), "192.0.2.2", "x" + strings.Repeat("é", 59)},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		r.Header.Set("User-Agent", tc.agent)
		got := audit.FromRequest(r, audit.Actor{Kind: audit.KindAPIToken, ID: "t1"})
		require.Equal(t, tc.ip, got.IP)
		require.Equal(t, tc.wantAgent, got.UserAgent)
		require.LessOrEqual(t, len(got.UserAgent), audit.MaxUserAgent)
		require.Equal(t, "t1", got.ID)
	}
}

func TestRedact(t *testing.T) {
	type door struct {
		ID         string `json:"id"`
		SecretHash string `json:"secret_hash"`
	}
	for _, tc := range []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"plain", map[string]any{"id": "m1", "name": "Ann"}, `{"id":"m1","name":"Ann"}`},
		{"struct", door{"d1", "abc"}, `{"id":"d1","secret_hash":"[redacted]"}`},
		{"nested and any case", map[string]any{"a": []any{map[string]any{"Password": "p", "TOTP_seed": "s", "ok": 1}}},
			`{"a":[{"Password":"[redacted]","TOTP_seed":"[redacted]","ok":1}]}`},
		{"tokens and sessions", map[string]any{"token": "swct_x", "enrollment_token": "swce_y", "session_id": "z",
			"token_id": "t1", "created_by_token": "t1"},
			`{"created_by_token":"[redacted]","enrollment_token":"[redacted]","session_id":"[redacted]","token":"[redacted]","token_id":"t1"}`},
		{"raw JSON", json.RawMessage(`{"secret":"s","x":{"key_hash":"h"}}`), `{"secret":"[redacted]","x":{"key_hash":"[redacted]"}}`},
		{"empty secret stays empty", map[string]any{"secret": ""}, `{"secret":""}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := audit.Redact(tc.in)
			require.NoError(t, err)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.JSONEq(t, tc.want, string(got))
		})
	}
	_, err := audit.Redact(func() {})
	require.Error(t, err)
}

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"":         "",
		"plain":    "plain",
		"=1+1":     "'=1+1",
		"+1":       "'+1",
		"-1":       "'-1",
		"@SUM(A1)": "'@SUM(A1)",
		"\t=1":     "'\t=1",
		"\r=1":     "'\r=1",
		"a=1":      "a=1",
		`{"a":1}`:  `{"a":1}`,
	} {
		require.Equal(t, want, audit.SafeCell(in), "%q", in)
	}
}

func TestCSVWriter(t *testing.T) {
	var buf bytes.Buffer
	w := audit.NewCSVWriter(&buf)
	require.NoError(t, w.Flush())
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 1, "an empty export is its header")

	buf.Reset()
	w = audit.NewCSVWriter(&buf)
	e := audit.Entry{ID: 7, At: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Actor:  audit.Actor{Kind: audit.KindAPIToken, ID: "t1", Name: "=cmd|' /C calc'!A0", UserAgent: "a,\"b\"\nc"},
		Action: audit.Update, ObjectKind: "member", ObjectID: "m1", Centers: []string{"c1", "c2"},
		Before: json.RawMessage(`{"name":"a,\"b\""}`), After: nil}
	require.NoError(t, w.Write([]audit.Entry{e}))
	require.NoError(t, w.Write([]audit.Entry{e}))
	require.NoError(t, w.Flush())
	rows, err = csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, "one header")
	require.Equal(t, []string{"7", "2026-03-02T09:00:00Z", "api_token", "t1", "'=cmd|' /C calc'!A0", "", "", "a,\"b\"\nc",
		"update", "member", "m1", "c1 c2", `{"name":"a,\"b\""}`, ""}, rows[1])
}
