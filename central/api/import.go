package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// importBody is the JSON form of a bulk import. Rows are decoded one by one
// so that a row that does not decode is reported with its number.
type importBody struct {
	Bookings []json.RawMessage `json:"bookings"`
}

// importResult answers an import that stored every row.
type importResult struct {
	Imported int `json:"imported"`
}

// csvColumns are the columns of the CSV form; the header names them, in any
// order. room_id and status may be left out (status defaults to confirmed).
func csvColumns() []string {
	return []string{"id", "member_id", "center_id", "room_id", "start", "end", "status"}
}

// importBookings stores every booking of the body or none. Rows are
// numbered from 1 in the order given (the CSV header is not a row).
func (s *Server) importBookings(w http.ResponseWriter, r *http.Request, p *principal) error {
	var bookings []domain.Booking
	rep := &store.ImportError{}
	switch mt := mediaType(r); mt {
	case "application/json":
		b, err := readBody(w, r, s.maxImp)
		if err != nil {
			return err
		}
		var in importBody
		if err := decodeJSON(b, &in); err != nil {
			return err
		}
		bookings = make([]domain.Booking, len(in.Bookings))
		for i, raw := range in.Bookings {
			if err := decodeJSON(raw, &bookings[i]); err != nil {
				ae, _ := toError(err)
				rep.Add(store.RowError{Row: i + 1, Code: ae.Code, Field: ae.Field, Message: ae.Message})
			}
		}
	case "text/csv":
		b, err := readBody(w, r, s.maxImp)
		if err != nil {
			return err
		}
		if bookings, err = parseCSV(b, rep); err != nil {
			return err
		}
	default:
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "send Content-Type: application/json or text/csv"}
	}
	if len(bookings) == 0 && rep.Total == 0 {
		return errInvalid("bookings", "no bookings to import")
	}
	if len(bookings) > MaxImportRows {
		return errInvalid("bookings", "%d rows; at most %d in one import", len(bookings), MaxImportRows)
	}
	if !p.admin() {
		for i := range bookings {
			if c := bookings[i].CenterID; c != "" && !p.in(c) {
				rep.Add(store.RowError{Row: i + 1, Code: "forbidden", Field: "center_id", Message: "center " + c + " is not yours"})
			}
		}
	}
	setImportCreators(bookings, p, rep)
	if rep.Total > 0 {
		return rep
	}
	n, err := s.st.ImportBookings(r.Context(), bookings)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "api: bookings imported", "rows", n, "token", p.ID)
	return writeJSON(w, http.StatusCreated, importResult{Imported: n})
}

// parseCSV reads the CSV form. Rows that do not parse are added to rep (with
// a zero booking kept in their place, so row numbers stay right); an error
// is returned for a file that is not CSV or has a wrong header.
func parseCSV(b []byte, rep *store.ImportError) ([]domain.Booking, error) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errInvalid("header", "empty CSV")
	}
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: "malformed_csv", Message: err.Error()}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(csvColumns(), h) {
			return nil, &Error{Status: http.StatusBadRequest, Code: "unknown_field", Field: h, Message: fmt.Sprintf("unknown CSV column %q; columns are %v", h, csvColumns())}
		}
		if _, dup := col[h]; dup {
			return nil, errInvalid(h, "column %q given twice", h)
		}
		col[h] = i
	}
	for _, need := range []string{"id", "member_id", "center_id", "start", "end"} {
		if _, ok := col[need]; !ok {
			return nil, errInvalid(need, "the CSV header has no %q column", need)
		}
	}
	var out []domain.Booking
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: "malformed_csv", Message: err.Error()}
		}
		if len(rec) != len(header) {
			rep.Add(store.RowError{Row: row, Code: "invalid", Message: fmt.Sprintf("%d fields; the header has %d", len(rec), len(header))})
			out = append(out, domain.Booking{})
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		bk := domain.Booking{ID: get("id"), MemberID: get("member_id"), CenterID: get("center_id"), RoomID: get("room_id"), Status: get("status")}
		if bk.Status == "" {
			bk.Status = domain.BookingConfirmed
		}
		ok := true
		for _, f := range []struct {
			name string
			t    *time.Time
		}{{"start", &bk.Start}, {"end", &bk.End}} {
			v := get(f.name)
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				rep.Add(store.RowError{Row: row, Code: "invalid", Field: f.name, Message: fmt.Sprintf("%q is not an RFC 3339 time such as 2026-03-02T09:00:00+01:00", v)})
				ok = false
				break
			}
			*f.t = t
		}
		if !ok {
			bk = domain.Booking{}
		}
		out = append(out, bk)
	}
	if len(out) == 0 {
		return nil, errInvalid("bookings", "the CSV has a header and no rows")
	}
	return out, nil
}
