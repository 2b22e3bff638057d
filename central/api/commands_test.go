package api_test

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestCommandRefusals checks who may not send what: every refusal answers
// before anything is signed or published. (Commands that reach a door
// through the broker are tested in central/server.)
func TestCommandRefusals(t *testing.T) {
	f := newFixture(t)
	signer := protocol.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	published := 0
	reg := metrics.NewRegistry()
	cmds := api.NewCommander(f.st, signer, func(context.Context, string, []byte) error {
		published++
		return nil
	}, slog.New(slog.NewTextHandler(f.log, nil)), reg, nil)
	f.srv = api.New(api.Config{Store: f.st, Logger: slog.New(slog.NewTextHandler(f.log, nil)), Commands: cmds})

	for _, tc := range []struct {
		name, who, door string
		body            any
		status          int
		code, field     string
	}{
		{"manager", "mgr1", "d1", api.CommandRequest{Action: "unlock", Seconds: 5}, 403, "forbidden", ""},
		{"technician of another center", "tech1", "d2", api.CommandRequest{Action: "unlock", Seconds: 5}, 404, "not_found", ""},
		{"unknown door", "admin", "nope", api.CommandRequest{Action: "resync"}, 404, "not_found", ""},
		{"unknown action", "admin", "d1", api.CommandRequest{Action: "explode"}, 400, "invalid", "action"},
		{"unlock without seconds", "tech1", "d1", api.CommandRequest{Action: "unlock"}, 400, "invalid", "seconds"},
		{"unlock too long", "tech1", "d1", api.CommandRequest{Action: "unlock", Seconds: protocol.MaxUnlockSeconds + 1}, 400, "invalid", "seconds"},
		{"resync with seconds", "admin", "d1", api.CommandRequest{Action: "resync", Seconds: 3}, 400, "invalid", "seconds"},
		{"unknown field", "admin", "d1", map[string]any{"action": "resync", "door": "d2"}, 400, "unknown_field", "door"},
		{"no token", "", "d1", api.CommandRequest{Action: "resync"}, 401, "unauthorized", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(tc.who, "POST", "/doors/"+tc.door+"/commands", tc.body)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			require.Equal(t, tc.code, res.Err.Code)
			require.Equal(t, tc.field, res.Err.Field)
		})
	}
	require.Zero(t, published, "no refused command was published")
	var sb strings.Builder
	require.NoError(t, reg.WriteText(&sb))
	// The manager is stopped by the route's role gate, before the commander.
	require.Contains(t, sb.String(), `swc_door_commands_total{action="unlock",result="refused"} 3`)
	require.Contains(t, sb.String(), `swc_door_commands_total{action="resync",result="refused"} 2`)
	require.Contains(t, sb.String(), `swc_door_commands_total{action="invalid",result="refused"} 1`)
}

// TestCommandBrokerDown uses a real ingest that is not connected: the
// command is refused with 503 and nothing is left queued.
func TestCommandBrokerDown(t *testing.T) {
	f := newFixture(t)
	in, err := ingest.New(ingest.Config{Broker: "tcp://127.0.0.1:1"}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
	require.NoError(t, err)
	signer := protocol.NewSigner(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	f.srv = api.New(api.Config{Store: f.st, Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		Commands: api.NewCommander(f.st, signer, in.PublishCommand, slog.New(slog.NewTextHandler(f.log, nil)), nil, nil)})
	res := f.do("tech1", "POST", "/doors/d1/commands", api.CommandRequest{Action: "unlock", Seconds: 5})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Body)
	require.Equal(t, "broker_unavailable", res.Err.Code)
	require.Contains(t, f.log.String(), "publishing a door command failed")

	// Without a commander at all, the endpoint says so.
	f.srv = api.New(api.Config{Store: f.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	res = f.do("admin", "POST", "/doors/d1/commands", api.CommandRequest{Action: "resync"})
	require.Equal(t, http.StatusServiceUnavailable, res.Status, "%s", res.Body)
	require.Equal(t, "commands_unavailable", res.Err.Code)
}
