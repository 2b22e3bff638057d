package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// The member-facing JSON API (issue 15): the booking site's operations for
// the signed-in member, authenticated by the member's session cookie (the
// same as the pages'), writes carrying the session's CSRF token in the
// X-CSRF-Token header and their bodies as application/json. It lives here, beside the pages, because the
// session does; swc-central mounts it at MeAPIPrefix (the staff's token API
// keeps /api/v1/members/{id}/bookings). Errors have the API's shape
// {code, field, message}, the message in the member's language.
//
//	GET  /api/v1/me                                  the member
//	GET  /api/v1/me/availability?start=&end=&center_id=&people=&kind=
//	GET  /api/v1/me/bookings?from=&to=               (default: from now, a year)
//	POST /api/v1/me/bookings                         {center_id, room_id, start, end, people}
//	POST /api/v1/me/bookings/recurring               {…, count, every_weeks}
//	POST /api/v1/me/bookings/cancel-range            {from, to}
//	PUT  /api/v1/me/bookings/{booking_id}            {start, end}
//	POST /api/v1/me/bookings/{booking_id}/cancel

// MeAPIPrefix is where the member-facing API is served.
const MeAPIPrefix = "/api/v1/me"

// CSRFHeader carries the session's CSRF token on the member API's writes.
const CSRFHeader = "X-CSRF-Token"

// apiHandler serves a member API request; its error is written as JSON.
type apiHandler func(rw http.ResponseWriter, r *http.Request, v *viewer) error

// apiError is the API's error shape.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func (w *Web) meRoutes() {
	m := w.mux
	m.Handle("GET "+MeAPIPrefix, w.memberAPI(w.apiMe))
	m.Handle("GET "+MeAPIPrefix+"/availability", w.memberAPI(w.apiAvailability))
	m.Handle("GET "+MeAPIPrefix+"/bookings", w.memberAPI(w.apiBookings))
	m.Handle("POST "+MeAPIPrefix+"/bookings", w.memberAPI(w.apiBook))
	m.Handle("POST "+MeAPIPrefix+"/bookings/recurring", w.memberAPI(w.apiBook))
	m.Handle("POST "+MeAPIPrefix+"/bookings/cancel-range", w.memberAPI(w.apiCancelRange))
	m.Handle("PUT "+MeAPIPrefix+"/bookings/{booking_id}", w.memberAPI(w.apiChange))
	m.Handle("POST "+MeAPIPrefix+"/bookings/{booking_id}/cancel", w.memberAPI(w.apiCancel))
}

// memberAPI wraps a member API handler: a member's session (else 401), the
// audit actor, the CSRF header on writes (else 403), JSON errors.
func (w *Web) memberAPI(h apiHandler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		v, err := w.viewer(r)
		if err == nil && v.Member == nil {
			err = errNoSession
		}
		if err != nil {
			if errors.Is(err, errNoSession) {
				err = &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "a member's session is required"}
			}
			w.apiFail(rw, r, nil, err)
			return
		}
		r = r.WithContext(audit.WithActor(r.Context(), audit.FromRequest(r, audit.Actor{
			Kind: audit.KindMember, ID: v.Member.ID, Name: v.Member.Name})))
		if r.Method != http.MethodGet {
			got := r.Header.Get(CSRFHeader)
			if !sameOrigin(r) || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(v.CSRF)) != 1 {
				w.apiFail(rw, r, v, &apiError{Status: http.StatusForbidden, Code: "csrf", Field: CSRFHeader, Message: "the session's CSRF token is required in " + CSRFHeader})
				return
			}
		}
		if err := h(rw, r, v); err != nil {
			w.apiFail(rw, r, v, err)
		}
	})
}

// apiFail writes err as {code, field, message}: a booking refusal in the
// member's language with its status, other errors as the API does.
func (w *Web) apiFail(rw http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var ae *apiError
	var be *booking.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &be):
		msg := w.locale(r, v).T("site.error." + be.Code)
		if be.Field != "" {
			msg += " (" + w.locale(r, v).T("site.field."+be.Field) + ")"
		}
		ae = &apiError{Status: refusalStatus(be.Code), Code: be.Code, Field: be.Field, Message: msg}
	default:
		w.log.ErrorContext(r.Context(), "web: member API", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
	}
	if ae.Status < 500 {
		w.log.InfoContext(r.Context(), "web: member API refused", "path", r.URL.Path, "code", ae.Code, "field", ae.Field)
	}
	writeAPI(rw, ae.Status, ae)
}

// refusalStatus is the HTTP status of a booking refusal, as the token API's.
func refusalStatus(code string) int {
	switch code {
	case booking.CodeInvalid:
		return http.StatusBadRequest
	case booking.CodeUnknownBooking, booking.CodeUnknownCenter, booking.CodeUnknownRoom:
		return http.StatusNotFound
	case booking.CodeNoDesks, booking.CodeRoomTaken:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

func writeAPI(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

// maxAPIBody bounds a member API request's body.
const maxAPIBody = 64 << 10

// decodeAPI reads a JSON body: Content-Type application/json (else 415,
// as the token API), at most maxAPIBody bytes (else 413), no unknown field.
func decodeAPI(r *http.Request, dst any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Field: "Content-Type",
			Message: "send Content-Type: application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Field: "body",
				Message: fmt.Sprintf("request body over %d bytes", mbe.Limit)}
		}
		return &apiError{Status: http.StatusBadRequest, Code: booking.CodeInvalid, Field: "body", Message: fmt.Sprintf("not a valid JSON body: %v", err)}
	}
	return nil
}

// apiTime reads an RFC 3339 time.
func apiTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, &booking.Error{Code: booking.CodeInvalid, Field: field, Message: fmt.Sprintf("%q is not an RFC 3339 time", s)}
	}
	return t, nil
}

func (w *Web) apiMe(rw http.ResponseWriter, _ *http.Request, v *viewer) error {
	writeAPI(rw, http.StatusOK, v.Member)
	return nil
}

func (w *Web) apiAvailability(rw http.ResponseWriter, r *http.Request, _ *viewer) error {
	q := r.URL.Query()
	start, err := apiTime("start", q.Get("start"))
	if err != nil {
		return err
	}
	end, err := apiTime("end", q.Get("end"))
	if err != nil {
		return err
	}
	query := booking.Query{Start: start, End: end, Kind: q.Get("kind")}
	if c := q.Get("center_id"); c != "" {
		if protocol.ValidID(c) != nil {
			return invalid("center_id")
		}
		query.CenterIDs = []string{c}
	}
	if p := q.Get("people"); p != "" {
		if query.People, err = strconv.Atoi(p); err != nil || query.People < 1 {
			return invalid("people")
		}
	}
	res, err := w.booking.Availability(r.Context(), query)
	if err != nil {
		return err
	}
	writeAPI(rw, http.StatusOK, map[string]any{"items": res})
	return nil
}

func (w *Web) apiBookings(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	q := r.URL.Query()
	from, to := w.now(), w.now().AddDate(1, 0, 0)
	var err error
	if s := q.Get("from"); s != "" {
		if from, err = apiTime("from", s); err != nil {
			return err
		}
	}
	if s := q.Get("to"); s != "" {
		if to, err = apiTime("to", s); err != nil {
			return err
		}
	}
	bs, err := w.booking.MyBookings(r.Context(), v.Member.ID, from, to)
	if err != nil {
		return err
	}
	writeAPI(rw, http.StatusOK, map[string]any{"items": bs})
	return nil
}

// apiBookBody is a booking request (recurring: count and every_weeks).
type apiBookBody struct {
	CenterID   string `json:"center_id"`
	RoomID     string `json:"room_id,omitempty"`
	Start      string `json:"start"`
	End        string `json:"end"`
	People     int    `json:"people,omitempty"`
	Count      int    `json:"count,omitempty"`
	EveryWeeks int    `json:"every_weeks,omitempty"`
}

func (w *Web) apiBook(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	var b apiBookBody
	if err := decodeAPI(r, &b); err != nil {
		return err
	}
	recurring := r.URL.Path == MeAPIPrefix+"/bookings/recurring"
	if !recurring && (b.Count != 0 || b.EveryWeeks != 0) {
		return &booking.Error{Code: booking.CodeInvalid, Field: "count", Message: "count and every_weeks are for /bookings/recurring"}
	}
	req := booking.Request{MemberID: v.Member.ID, CenterID: b.CenterID, RoomID: b.RoomID, People: b.People}
	var err error
	if req.Start, err = apiTime("start", b.Start); err != nil {
		return err
	}
	if req.End, err = apiTime("end", b.End); err != nil {
		return err
	}
	if !recurring {
		bk, err := w.booking.Book(r.Context(), req)
		if err != nil {
			return err
		}
		w.notify(r.Context(), r, v, noticeBooked, bk)
		writeAPI(rw, http.StatusCreated, bk)
		return nil
	}
	series, err := w.booking.BookRecurring(r.Context(), req, b.Count, max(b.EveryWeeks, 1))
	if err != nil {
		return err
	}
	for _, o := range series.Occurrences {
		if o.Booking != nil {
			w.notify(r.Context(), r, v, noticeBooked, *o.Booking)
		}
	}
	status := http.StatusCreated
	if series.Made == 0 {
		status = http.StatusUnprocessableEntity
	}
	writeAPI(rw, status, series)
	return nil
}

func (w *Web) apiCancelRange(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	var b struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := decodeAPI(r, &b); err != nil {
		return err
	}
	from, err := apiTime("from", b.From)
	if err != nil {
		return err
	}
	to, err := apiTime("to", b.To)
	if err != nil {
		return err
	}
	res, err := w.booking.CancelRange(r.Context(), v.Member.ID, from, to)
	if err != nil {
		return err
	}
	for _, c := range res.Cancelled {
		w.notify(r.Context(), r, v, noticeCancelled, c)
	}
	writeAPI(rw, http.StatusOK, res)
	return nil
}

// apiOwn checks that {booking_id} is an id (the service answers whose it is).
func apiOwn(r *http.Request) (string, error) {
	id := r.PathValue("booking_id")
	if protocol.ValidID(id) != nil {
		return "", &booking.Error{Code: booking.CodeUnknownBooking, Field: "booking_id", Message: "no booking " + id}
	}
	return id, nil
}

func (w *Web) apiChange(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := apiOwn(r)
	if err != nil {
		return err
	}
	var b struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	if err := decodeAPI(r, &b); err != nil {
		return err
	}
	start, err := apiTime("start", b.Start)
	if err != nil {
		return err
	}
	end, err := apiTime("end", b.End)
	if err != nil {
		return err
	}
	bk, err := w.booking.Change(r.Context(), v.Member.ID, id, start, end)
	if err != nil {
		return err
	}
	w.notify(r.Context(), r, v, noticeChanged, bk)
	writeAPI(rw, http.StatusOK, bk)
	return nil
}

func (w *Web) apiCancel(rw http.ResponseWriter, r *http.Request, v *viewer) error {
	id, err := apiOwn(r)
	if err != nil {
		return err
	}
	bk, err := w.booking.Cancel(r.Context(), v.Member.ID, id)
	if err != nil {
		return err
	}
	w.notify(r.Context(), r, v, noticeCancelled, bk)
	writeAPI(rw, http.StatusOK, bk)
	return nil
}
