package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/onboarding"
	"github.com/smartworkcenters/swc/central/store"
)

// Error is an API error as sent: {"code", "field", "message"} (and "rows"
// for a rejected import). Code is stable; clients switch on it.
type Error struct {
	Status  int              `json:"-"`
	Code    string           `json:"code"`
	Field   string           `json:"field,omitempty"`
	Message string           `json:"message"`
	Rows    []store.RowError `json:"rows,omitempty"`
	Total   int              `json:"total_rows_wrong,omitempty"`
	// Problems lists what is wrong with a bundle (POST /import).
	Problems []onboarding.Problem `json:"problems,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errForbidden(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: fmt.Sprintf(format, args...)}
}

func errNotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

func errInvalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: field, Message: fmt.Sprintf(format, args...)}
}

// outside refuses a request that names a center outside the caller's
// centers (in its body or query). It is checked before anything is looked
// up, so it says nothing about whether that center exists.
func outside(what string) *Error {
	return errForbidden("%s is not in your centers", what)
}

// hidden is what a caller hears about an existing object of a center
// outside their own: exactly what they hear about an id that does not
// exist (the store's not-found error for that kind and id: same status,
// same body), so that the answers do not tell which ids exist in other
// centers.
func hidden(what string, id any) error {
	return store.Errf(store.ErrNotFound, "", "%s %v", what, id)
}

// hiddenRef is what a caller hears when their request refers (in field)
// to an existing object of a center outside their own: exactly the
// store's answer for a reference to a missing object.
func hiddenRef(field, what string, id any) error {
	return store.Errf(store.ErrMissingRef, field, "%s %v does not exist", what, id)
}

// toError maps any error to the API error sent; internal errors are logged
// and sent without detail.
func toError(err error) (*Error, bool) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae, false
	}
	var ie *store.ImportError
	if errors.As(err, &ie) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "import_rejected",
			Message: fmt.Sprintf("nothing imported: %d rows are wrong", ie.Total), Rows: ie.Rows, Total: ie.Total}, false
	}
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: fe.Field, Message: fe.Message}, false
	}
	var se *store.Error
	if errors.As(err, &se) {
		e := &Error{Field: se.Field, Message: se.Error()}
		switch se.Kind {
		case store.ErrNotFound:
			e.Status, e.Code = http.StatusNotFound, "not_found"
		case store.ErrExists:
			e.Status, e.Code = http.StatusConflict, "exists"
		case store.ErrRetired:
			e.Status, e.Code = http.StatusConflict, "id_retired"
		case store.ErrMissingRef:
			e.Status, e.Code = http.StatusUnprocessableEntity, "missing_ref"
		case store.ErrInUse:
			e.Status, e.Code = http.StatusConflict, "in_use"
		case store.ErrOverlap:
			e.Status, e.Code = http.StatusConflict, "booking_overlap"
		case store.ErrFull:
			e.Status, e.Code = http.StatusConflict, "no_desk_left"
		case store.ErrStale:
			e.Status, e.Code = http.StatusConflict, "stale"
		case store.ErrBadCredentials:
			e.Status, e.Code = http.StatusUnauthorized, "unauthorized"
		default:
			return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}, true
		}
		return e, false
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}, true
}

// fail sends err, logs it and counts it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	ae, internal := toError(err)
	who := ""
	if p != nil {
		who = p.ID
	}
	if internal {
		s.log.ErrorContext(r.Context(), "api: internal error", "method", r.Method, "path", r.URL.Path, "token", who, "err", err)
	} else {
		s.log.WarnContext(r.Context(), "api: request refused", "method", r.Method, "path", r.URL.Path, "token", who,
			"status", ae.Status, "code", ae.Code, "field", ae.Field, "message", ae.Message)
	}
	s.rejects.With(ae.Code).Inc()
	_ = writeJSON(w, ae.Status, ae)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// mediaType returns the request's media type ("" when absent).
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return mt
}

// readBody reads the body up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("request body over %d bytes", mbe.Limit)}
	}
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "malformed_body", Message: "could not read the request body"}
	}
	return b, nil
}

// decode reads one JSON value into v: the body must be application/json,
// within the size limit, well-formed, one value, and hold no unknown field.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if mt := mediaType(r); mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send Content-Type: application/json"}
	}
	b, err := readBody(w, r, s.maxBody)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Message: "data after the JSON value"}
	}
	return nil
}

func jsonError(err error) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tpe *time.ParseError
	switch {
	case errors.As(err, &syn):
		return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Message: fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Message: "the JSON body is empty or cut short"}
	case errors.As(err, &typ):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: typ.Field, Message: fmt.Sprintf("want a JSON %s", typ.Type)}
	case errors.As(err, &tpe):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: fmt.Sprintf("a time %q is not RFC 3339, such as 2026-03-02T09:00:00+01:00", tpe.Value)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: name, Message: "unknown field " + name}
	}
	return &Error{Status: http.StatusBadRequest, Code: "malformed_json", Message: err.Error()}
}

// AsError maps any error to the API error a client is told, as the API
// answers it, and reports whether it was internal (sent without detail;
// the caller should log it).
func AsError(err error) (*Error, bool) { return toError(err) }
