package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// CommandResult is the answer to a remote command: the signed command, how
// it was delivered (sent: the door was online; queued_until_online: the
// door is offline or never reported, and the central sends the command
// again when it is back, until it expires) and a warning for the person
// who asked when the door is not online.
type CommandResult struct {
	protocol.Command
	Delivery string `json:"delivery"`
	Warning  string `json:"warning,omitempty"`
}

// CommandStatus is a recorded command with its status now: sent,
// queued_until_online, executed, failed or expired.
type CommandStatus struct {
	store.CommandRecord
	Status string `json:"status"`
}

// track decides the delivery from the door's last known state (shared by
// every replica through the store).
func (c *Commander) track(ctx context.Context, door domain.Door, cmd protocol.Command, res *CommandResult) {
	res.Delivery = store.CommandSent
	h, err := c.st.Health().DoorHealth(ctx, door.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.log.WarnContext(ctx, "api: door state unknown for a command", "door", door.ID, "err", err)
	}
	if err == nil && h.State == store.DoorOnline {
		return
	}
	res.Delivery = store.CommandQueued
	until := time.UnixMilli(cmd.ExpiresMs).UTC().Format(time.RFC3339)
	switch {
	case err == nil && h.State == store.DoorOffline:
		res.Warning = fmt.Sprintf("door %s is offline (since %s, %s ago): the command waits until the door is back and expires at %s if it is not",
			door.ID, time.UnixMilli(h.OfflineSinceMs).UTC().Format(time.RFC3339), h.OfflineFor(c.now()).Round(time.Second), until)
	default:
		res.Warning = fmt.Sprintf("door %s has not reported being online: the command waits until the door is online and expires at %s if it is not",
			door.ID, until)
	}
}

// record stores the command and its delivery; a failure is logged (the
// command itself was sent or refused already).
func (c *Commander) record(ctx context.Context, door domain.Door, cmd protocol.Command, signed []byte, delivery, errText string) {
	rec := store.CommandRecord{ID: cmd.ID, Door: door.ID, Center: door.CenterID, Action: cmd.Action, Seconds: cmd.Seconds, By: cmd.By,
		IssuedMs: cmd.IssuedMs, ExpiresMs: cmd.ExpiresMs, Delivery: delivery, Error: errText, Signed: signed}
	if err := c.st.Health().SaveCommand(ctx, rec); err != nil {
		c.log.ErrorContext(ctx, "api: door command not recorded", "door", door.ID, "command", cmd.ID, "err", err)
	}
}

// listDoorCommands is GET /doors/{id}/commands: the door's commands,
// newest first, with their status now.
func (s *Server) listDoorCommands(w http.ResponseWriter, r *http.Request, p *principal) error {
	d, err := s.door(r, p)
	if err != nil {
		return err
	}
	pr, err := pageAlone(r)
	if err != nil {
		return err
	}
	page, err := s.st.Health().ListCommands(r.Context(), d.ID, pr)
	if err != nil {
		return err
	}
	now := s.now()
	out := store.Page[CommandStatus]{Items: make([]CommandStatus, len(page.Items)), Next: page.Next}
	for i, c := range page.Items {
		out.Items[i] = CommandStatus{CommandRecord: c, Status: c.Status(now)}
	}
	return sendPage(w, out, nil)
}
