package api

import (
	"net/http"
	"time"
)

// checkInBody is a booking's check-in as the API shows it.
type checkInBody struct {
	BookingID string     `json:"booking_id"`
	CheckedIn bool       `json:"checked_in"`
	At        *time.Time `json:"at,omitempty"`
	Door      string     `json:"door,omitempty"`
}

// getCheckIn answers GET /bookings/{id}/check-in: whether the booking's
// member checked in by badge (central/booking), when and where.
func (s *Server) getCheckIn(w http.ResponseWriter, r *http.Request, p *principal) error {
	b, err := s.booking(r, p)
	if err != nil {
		return err
	}
	ins, err := s.bk.CheckIns(r.Context(), []string{b.ID})
	if err != nil {
		return err
	}
	out := checkInBody{BookingID: b.ID}
	if ci, ok := ins[b.ID]; ok {
		at := time.UnixMilli(ci.AtMs).UTC()
		out.CheckedIn, out.At, out.Door = true, &at, ci.Door
	}
	return writeJSON(w, http.StatusOK, out)
}
