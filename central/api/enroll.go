package api

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// enrollmentBody is the (optional) body of POST /doors/{id}/enrollments.
type enrollmentBody struct {
	// TTLMinutes is how long the token stays valid (default 1440, one day;
	// at most 10080, seven days).
	TTLMinutes int `json:"ttl_minutes"`
}

func (s *Server) enrollUnavailable() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "enrollment_unavailable",
		Message: "this central does not enroll doors (no CA or broker address configured)"}
}

// createEnrollment makes a one-time enrollment token for a door of the
// caller's centers.
func (s *Server) createEnrollment(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.enroll == nil {
		return s.enrollUnavailable()
	}
	d, err := s.door(r, p)
	if err != nil {
		return err
	}
	var body enrollmentBody
	if r.ContentLength != 0 {
		if err := s.decode(w, r, &body); err != nil {
			return err
		}
	}
	if body.TTLMinutes < 0 || time.Duration(body.TTLMinutes)*time.Minute > store.MaxEnrollmentTTL {
		return errInvalid("ttl_minutes", "%d; want 1 to %d minutes (0 for the default of one day)", body.TTLMinutes, int(store.MaxEnrollmentTTL/time.Minute))
	}
	tok, err := s.enroll.NewToken(r.Context(), d.ID, time.Duration(body.TTLMinutes)*time.Minute, p.ID, s.centralURL(r), r.TLS != nil)
	if errors.Is(err, enroll.ErrInvalid) {
		return errInvalid("id", "%v", err)
	}
	if err != nil {
		return err
	}
	return created(w, tok)
}

// centralURL is where technicians reach this API: the configured public
// URL, or the scheme and host of the request.
func (s *Server) centralURL(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = net.JoinHostPort("localhost", "8080")
	}
	return scheme + "://" + host
}

// enrollDoor is the public endpoint `swc-edge provision` calls: a one-time
// token and a certificate request in, the door's certificate and settings
// out.
func (s *Server) enrollDoor(w http.ResponseWriter, r *http.Request, _ *principal) error {
	if s.enroll == nil {
		return s.enrollUnavailable()
	}
	if mt := mediaType(r); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "send Content-Type: application/json"}
	}
	b, err := readBody(w, r, s.maxBody)
	if err != nil {
		return err
	}
	req, err := protocol.DecodeEnrollRequest(b)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: pe.Field, Message: err.Error()}
		}
		return err
	}
	// The door enrolls with a one-time token: no person is signed in.
	ctx := audit.WithActor(r.Context(), audit.FromRequest(r, audit.System("enrollment")))
	e, err := s.enroll.Enroll(ctx, req)
	switch {
	case errors.Is(err, store.ErrBadCredentials):
		return &Error{Status: http.StatusUnauthorized, Code: "token_unknown", Field: "token",
			Message: "unknown enrollment token: check that it was copied whole, or ask for a new one"}
	case errors.Is(err, store.ErrTokenUsed):
		return &Error{Status: http.StatusUnauthorized, Code: "token_used", Field: "token",
			Message: "this enrollment token was already used (" + err.Error() + "); a token enrolls one door once: ask for a new one"}
	case errors.Is(err, store.ErrTokenExpired):
		return &Error{Status: http.StatusUnauthorized, Code: "token_expired", Field: "token",
			Message: "this enrollment token has expired (" + err.Error() + "); ask for a new one"}
	case errors.Is(err, enroll.ErrWrongDoor):
		return &Error{Status: http.StatusBadRequest, Code: "wrong_door", Field: "csr", Message: err.Error()}
	case errors.Is(err, enroll.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "csr", Message: err.Error()}
	case err != nil:
		return err
	}
	return writeJSON(w, http.StatusOK, e)
}
