package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// doorOf loads the door of the path and checks the viewer sees its center.
func (w *Web) doorOf(r *http.Request, v *viewer) (domain.Door, error) {
	id := r.PathValue("id")
	if err := protocol.ValidID(id); err != nil {
		return domain.Door{}, pageErr(http.StatusNotFound, "error.no_door")
	}
	d, err := w.st.Door(r.Context(), id)
	if err != nil {
		return d, err
	}
	if !v.Sees(d.CenterID) {
		return d, hidden("door", id)
	}
	return d, nil
}

// door shows a door's status, recent events and command buttons.
func (w *Web) door(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.doorOf(r, v)
	if err != nil {
		return err
	}
	w.showDoor(rw, r, v, d, http.StatusOK, w.takeFlash(r, v), "")
	return nil
}

func (w *Web) showDoor(rw http.ResponseWriter, r *http.Request, v *viewer, d domain.Door, status int, flash, problem string) {
	ctx, cancel := w.context(r)
	defer cancel()
	fail := func(err error) { w.errorPage(rw, r, v, err) }
	center, err := w.st.Center(ctx, d.CenterID)
	if err != nil {
		fail(err)
		return
	}
	row, err := w.doorRow(ctx, d, w.centerLoc(center), w.doorStates())
	if err != nil {
		fail(err)
		return
	}
	room := ""
	if d.RoomID != "" {
		if rm, err := w.st.Room(ctx, d.RoomID); err == nil {
			room = rm.Name
		}
	}
	evs, complete, err := recentEvents(ctx, w.st, store.EventFilter{Door: d.ID}, w.now(), 30, nil)
	if err != nil {
		fail(err)
		return
	}
	views := make([]eventView, 0, len(evs))
	for i := range evs {
		ev := w.view(doorInfo{id: d.ID, name: d.Name, center: d.CenterID, loc: row.Loc}, &evs[i].Event)
		if !v.SeesEvents() {
			ev.Member = "" // technicians test doors; members are the center's business
		}
		views = append(views, ev)
	}
	health, err := w.doorHealth(ctx, w.locale(r, v), d, int(api.CommandLifetime.Minutes()))
	if err != nil {
		fail(err)
		return
	}
	w.render(rw, r, status, "door", v, map[string]any{"Health": health,
		"Door": row, "Center": center, "Room": room, "Events": views, "Complete": complete,
		"CanCommand": w.cfg.Commands != nil && v.MayCommand(d.CenterID), "MaxUnlock": protocol.MaxUnlockSeconds,
		"Flash": flash, "Problem": problem, "LifetimeMinutes": int(api.CommandLifetime.Minutes()),
	})
}

// command sends a remote command from the door page's buttons, through the
// same Commander as the API.
func (w *Web) command(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	d, err := w.doorOf(r, v)
	if err != nil {
		return err
	}
	if w.cfg.Commands == nil {
		return pageErr(http.StatusServiceUnavailable, "error.no_commands")
	}
	req := api.CommandRequest{Action: r.PostFormValue("action")}
	if req.Action == protocol.ActionUnlock {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("seconds")))
		if err != nil {
			w.showDoor(rw, r, v, d, http.StatusBadRequest, "", w.locale(r, v).T("door.seconds", "max", protocol.MaxUnlockSeconds))
			return nil
		}
		req.Seconds = n
	}
	res, err := w.cfg.Commands.SendTracked(r.Context(), v.Token, d.ID, req)
	cmd := res.Command
	if err != nil {
		ae, internal := api.AsError(err)
		if internal {
			return err
		}
		w.showDoor(rw, r, v, d, ae.Status, "", w.locale(r, v).T("door.not_sent", "why", ae.Message))
		return nil
	}
	loc := w.locale(r, v)
	what := loc.T("door.action."+cmd.Action, "n", cmd.Seconds)
	msg := loc.T("door.sent", "what", what, "id", cmd.ID, "time", time.UnixMilli(cmd.ExpiresMs).In(w.loc).Format("15:04:05"))
	if res.Delivery == store.CommandQueued { // the door is not online: say the command waits
		msg += " " + loc.T("console.door.queued", "time", time.UnixMilli(cmd.ExpiresMs).In(w.loc).Format("15:04:05"))
	}
	w.setFlash(r, v, msg)
	http.Redirect(rw, r, "/doors/"+d.ID, http.StatusSeeOther)
	return nil
}
