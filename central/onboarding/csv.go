package onboarding

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Columns returns the CSV columns of a list, the required ones first (the
// number of them is the second result). Lists inside a cell (equipment,
// desks, center_ids) are separated by "|"; a desk is "ID=NAME"; booleans
// are true/false (or 1/0, yes/no, empty for false); times are RFC 3339;
// a center's hours are days and spans, such as
// "mon-fri 08:00-12:30 13:30-18:00; sat 09:00-12:00" (empty: closed).
func Columns(list string) (cols []string, required int) {
	switch list {
	case store.ListCenters:
		return []string{"id", "name", "time_zone", "hours", "rate_cents"}, 3
	case store.ListRooms:
		return []string{"id", "center_id", "name", "capacity", "equipment"}, 3
	case store.ListDeskPools:
		return []string{"center_id", "capacity", "desks"}, 2
	case store.ListDoors:
		return []string{"id", "center_id", "name", "room_id", "exit"}, 3
	case store.ListMembers:
		return []string{"id", "name", "email", "home_center_id", "status"}, 2
	case store.ListBadges:
		return []string{"uid", "member_id", "revoked"}, 2
	case store.ListPasses:
		return []string{"id", "member_id", "valid_from", "valid_until", "center_ids"}, 4
	}
	return nil, 0
}

// AddCSV reads the CSV file of one list (a header line, then a row per
// object).
func (b *Bundle) AddCSV(name, list string, data []byte) {
	cols, required := Columns(list)
	if cols == nil {
		b.problem(name, 0, "", "", "malformed", "%q is not a list; CSV files are named %s.csv", list, strings.Join(store.BundleLists(), ".csv, "))
		return
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		b.problem(name, 1, list, "", "malformed", "empty file: want a header line naming the columns (%s)", strings.Join(cols, ","))
		return
	}
	if err != nil {
		b.problem(name, csvLine(err, 1), list, "", "malformed", "%v", err)
		return
	}
	col := map[string]int{}
	bad := false
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case !slices.Contains(cols, h):
			b.problem(name, 1, list, h, "unknown_column", "unknown column %q; the columns of %s are %s", h, list, strings.Join(cols, ","))
			bad = true
		case hasKey(col, h):
			b.problem(name, 1, list, h, "malformed", "column %q named twice", h)
			bad = true
		}
		col[h] = i
	}
	for _, need := range cols[:required] {
		if !hasKey(col, need) {
			b.problem(name, 1, list, need, "malformed", "the header has no %q column (required: %s)", need, strings.Join(cols[:required], ","))
			bad = true
		}
	}
	if bad {
		return
	}
	for {
		line, _ := cr.FieldPos(0)
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			b.problem(name, csvLine(err, line), list, "", "malformed", "%v", err)
			return
		}
		line, _ = cr.FieldPos(0)
		if len(rec) != len(header) {
			b.problem(name, line, list, "", "malformed", "%d fields; the header has %d", len(rec), len(header))
			continue
		}
		r := &row{rec: rec, col: col}
		b.addCSVRow(list, r)
		if r.err != nil {
			b.problem(name, line, list, r.err.field, "invalid", "%s", r.err.msg)
			continue
		}
		b.from(list, name, line)
	}
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

func csvLine(err error, def int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Line
	}
	return def
}

// row reads the cells of one CSV row; the first error is kept.
type row struct {
	rec []string
	col map[string]int
	err *itemError
}

func (r *row) str(name string) string {
	if i, ok := r.col[name]; ok {
		return strings.TrimSpace(r.rec[i])
	}
	return ""
}

func (r *row) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &itemError{field, fmt.Sprintf(format, args...)}
	}
}

func (r *row) int(name string) int64 {
	v := r.str(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		r.fail(name, "%q is not a whole number", v)
	}
	return n
}

func (r *row) bool(name string) bool {
	switch v := strings.ToLower(r.str(name)); v {
	case "", "false", "0", "no":
		return false
	case "true", "1", "yes":
		return true
	default:
		r.fail(name, "%q: want true or false", v)
		return false
	}
}

func (r *row) time(name string) time.Time {
	v := r.str(name)
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		r.fail(name, "%q is not an RFC 3339 time such as 2026-03-02T09:00:00+01:00", v)
	}
	return t
}

func (r *row) list(name string) []string {
	v := r.str(name)
	if v == "" {
		return nil
	}
	parts := strings.Split(v, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// addCSVRow appends the object of one row (when it reads: r.err otherwise).
func (b *Bundle) addCSVRow(list string, r *row) {
	switch list {
	case store.ListCenters:
		x := domain.Center{ID: r.str("id"), Name: r.str("name"), TimeZone: r.str("time_zone"), RateCents: r.int("rate_cents")}
		h, err := ParseHours(r.str("hours"))
		if err != nil {
			r.fail("hours", "%v", err)
		}
		x.Hours = h
		if r.err == nil {
			b.Centers = append(b.Centers, x)
		}
	case store.ListRooms:
		x := domain.Room{ID: r.str("id"), CenterID: r.str("center_id"), Name: r.str("name"), Capacity: int(r.int("capacity")), Equipment: r.list("equipment")}
		if r.err == nil {
			b.Rooms = append(b.Rooms, x)
		}
	case store.ListDeskPools:
		x := domain.DeskPool{CenterID: r.str("center_id"), Capacity: int(r.int("capacity"))}
		for i, d := range r.list("desks") {
			id, name, ok := strings.Cut(d, "=")
			if !ok {
				r.fail("desks", "desk %d %q: want ID=NAME", i+1, d)
			}
			x.Desks = append(x.Desks, domain.Desk{ID: strings.TrimSpace(id), Name: strings.TrimSpace(name)})
		}
		if r.err == nil {
			b.DeskPools = append(b.DeskPools, x)
		}
	case store.ListDoors:
		x := domain.Door{ID: r.str("id"), CenterID: r.str("center_id"), Name: r.str("name"), RoomID: r.str("room_id"), Exit: r.bool("exit")}
		if r.err == nil {
			b.Doors = append(b.Doors, x)
		}
	case store.ListMembers:
		x := domain.Member{ID: r.str("id"), Name: r.str("name"), Email: r.str("email"), HomeCenterID: r.str("home_center_id"), Status: r.str("status")}
		if x.Status == "" {
			x.Status = domain.MemberActive
		}
		if r.err == nil {
			b.Members = append(b.Members, x)
		}
	case store.ListBadges:
		x := domain.Badge{UID: protocol.UID(strings.ToUpper(r.str("uid"))), MemberID: r.str("member_id"), Revoked: r.bool("revoked")}
		if r.err == nil {
			b.Badges = append(b.Badges, x)
		}
	case store.ListPasses:
		x := domain.Pass{ID: r.str("id"), MemberID: r.str("member_id"), ValidFrom: r.time("valid_from"), ValidUntil: r.time("valid_until"), CenterIDs: r.list("center_ids")}
		if r.err == nil {
			b.Passes = append(b.Passes, x)
		}
	}
}

// MaxZipFiles and MaxZipBytes bound a zip archive of CSV files (what it
// holds once uncompressed).
const (
	MaxZipFiles = 64
	MaxZipBytes = 256 << 20
)

// AddZip reads a zip archive of LIST.csv files.
func (b *Bundle) AddZip(name string, data []byte) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		b.problem(name, 0, "", "", "malformed", "not a zip archive: %v", err)
		return
	}
	if len(zr.File) > MaxZipFiles {
		b.problem(name, 0, "", "", "malformed", "%d files; at most %d", len(zr.File), MaxZipFiles)
		return
	}
	var total int64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		inner := name + "/" + f.Name
		if strings.ToLower(path.Ext(f.Name)) != ".csv" {
			b.problem(inner, 0, "", "", "malformed", "a zip bundle holds LIST.csv files only")
			continue
		}
		rc, err := f.Open()
		if err != nil {
			b.problem(inner, 0, "", "", "malformed", "%v", err)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(rc, MaxZipBytes-total+1))
		rc.Close()
		total += int64(len(body))
		if err != nil {
			b.problem(inner, 0, "", "", "malformed", "%v", err)
			continue
		}
		if total > MaxZipBytes {
			b.problem(inner, 0, "", "", "malformed", "the archive holds more than %d bytes uncompressed", MaxZipBytes)
			return
		}
		b.AddCSV(inner, strings.TrimSuffix(path.Base(f.Name), path.Ext(f.Name)), body)
	}
}
