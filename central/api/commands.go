package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// CommandLifetime is how long a remote command stays valid after it is
// issued: a door that gets it later refuses it.
const CommandLifetime = 2 * time.Minute

// commandPublishTimeout bounds the wait for the broker to accept a command.
const commandPublishTimeout = 10 * time.Second

// Publisher hands a signed command to the broker for one door (the
// ingest's PublishCommand).
type Publisher func(ctx context.Context, door string, signed []byte) error

// CommandRequest is the body of POST /doors/{id}/commands.
type CommandRequest struct {
	Action  string `json:"action"`            // unlock, relock or resync
	Seconds int    `json:"seconds,omitempty"` // unlock only: 1 to protocol.MaxUnlockSeconds
}

// Commander builds, signs, publishes and audits remote door commands. The
// API endpoint and the dashboard's buttons both go through Send.
type Commander struct {
	st      store.Store
	signer  *protocol.Signer
	publish Publisher
	log     *slog.Logger
	now     func() time.Time
	sent    *metrics.CounterVec
}

// NewCommander returns a commander that signs with signer and publishes
// with publish. now may be nil (time.Now).
func NewCommander(st store.Store, signer *protocol.Signer, publish Publisher, log *slog.Logger, reg *metrics.Registry, now func() time.Time) *Commander {
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	if now == nil {
		now = time.Now
	}
	return &Commander{st: st, signer: signer, publish: publish, log: log, now: now,
		sent: reg.CounterVec("swc_door_commands_total", "Remote door commands asked for, by action and result (sent, refused, failed).", "action", "result")}
}

// MayCommand reports whether the token may send commands to doors of the
// center: admins everywhere, technicians at their centers.
func MayCommand(tk store.Token, center string) bool {
	switch tk.Role {
	case store.RoleAdmin:
		return true
	case store.RoleTechnician:
		return center != "" && slices.Contains(tk.Centers, center)
	}
	return false
}

// Send checks that by may command the door, builds a command with a fresh
// id that expires after CommandLifetime, signs it, publishes it at QoS 1
// on the door's commands topic and writes an audit log line. Refusals are
// *Error values (forbidden, not_found, invalid, broker_unavailable).
func (c *Commander) Send(ctx context.Context, by store.Token, doorID string, req CommandRequest) (protocol.Command, error) {
	res, err := c.SendTracked(ctx, by, doorID, req)
	return res.Command, err
}

// SendTracked is Send that also says what became of the command (see
// commandstate.go): sent to an online door, or queued until an offline
// door is back (with a warning), and records it for GET
// /doors/{id}/commands.
func (c *Commander) SendTracked(ctx context.Context, by store.Token, doorID string, req CommandRequest) (CommandResult, error) {
	cmd, err := c.send(ctx, by, doorID, req)
	result := "sent"
	if err != nil {
		result = "refused"
		if ae, _ := toError(err); ae.Status >= 500 {
			result = "failed"
		}
		c.log.WarnContext(ctx, "api: door command not sent", "door", doorID, "action", req.Action, "seconds", req.Seconds,
			"by", by.ID, "role", by.Role, "err", err)
	}
	action := req.Action
	if action != protocol.ActionUnlock && action != protocol.ActionRelock && action != protocol.ActionResync {
		action = "invalid"
	}
	c.sent.With(action, result).Inc()
	return cmd, err
}

func (c *Commander) send(ctx context.Context, by store.Token, doorID string, req CommandRequest) (CommandResult, error) {
	var res CommandResult
	var err error
	res.Command, err = c.sendSigned(ctx, by, doorID, req, &res)
	return res, err
}

func (c *Commander) sendSigned(ctx context.Context, by store.Token, doorID string, req CommandRequest, res *CommandResult) (protocol.Command, error) {
	if by.Role != store.RoleAdmin && by.Role != store.RoleTechnician {
		return protocol.Command{}, errForbidden("only admins and the center's technicians send door commands")
	}
	if err := protocol.ValidID(doorID); err != nil {
		return protocol.Command{}, errInvalid("id", "%q: %v", doorID, err)
	}
	door, err := c.st.Door(ctx, doorID)
	if err != nil {
		return protocol.Command{}, err
	}
	if !MayCommand(by, door.CenterID) {
		return protocol.Command{}, hidden("door", doorID)
	}
	if c.signer == nil || c.publish == nil {
		return protocol.Command{}, &Error{Status: http.StatusServiceUnavailable, Code: "commands_unavailable",
			Message: "this server cannot send door commands (no signing key or broker connection configured)"}
	}
	now := c.now()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	cmd := protocol.Command{ID: "cmd-" + hex.EncodeToString(id), Door: door.ID, Action: req.Action, Seconds: req.Seconds,
		IssuedMs: now.UnixMilli(), ExpiresMs: now.Add(CommandLifetime).UnixMilli(), By: by.ID}
	signed, err := c.signer.SignCommand(&cmd)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return cmd, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: pe.Field, Message: pe.Error()}
		}
		return cmd, err
	}
	c.track(ctx, door, cmd, res)
	pctx, cancel := context.WithTimeout(ctx, commandPublishTimeout)
	defer cancel()
	if err := c.publish(pctx, door.ID, signed); err != nil {
		c.record(ctx, door, cmd, signed, store.CommandFailed, err.Error())
		c.log.ErrorContext(ctx, "api: publishing a door command failed", "door", door.ID, "command", cmd.ID, "err", err)
		return cmd, &Error{Status: http.StatusServiceUnavailable, Code: "broker_unavailable",
			Message: "the command could not be handed to the broker; nothing was sent, try again"}
	}
	c.record(ctx, door, cmd, signed, res.Delivery, "")
	c.log.InfoContext(ctx, "audit: door command sent", "door", door.ID, "center", door.CenterID, "action", cmd.Action, "delivery", res.Delivery,
		"seconds", cmd.Seconds, "command", cmd.ID, "by", by.ID, "role", by.Role,
		"expires", time.UnixMilli(cmd.ExpiresMs).UTC().Format(time.RFC3339))
	return cmd, nil
}

func (s *Server) sendCommand(w http.ResponseWriter, r *http.Request, p *principal) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var req CommandRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if s.cmds == nil {
		return &Error{Status: http.StatusServiceUnavailable, Code: "commands_unavailable", Message: "this server cannot send door commands"}
	}
	res, err := s.cmds.SendTracked(r.Context(), p.Token, id, req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, res)
}
