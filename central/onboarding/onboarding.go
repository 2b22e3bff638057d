// Package onboarding loads a part of the network — centers, their places
// (rooms and desk pools), doors, members, badges and passes — from files,
// and creates it all or nothing with store.Store.Import: the onboarding of
// a new region in one request.
//
// Two forms, which may be mixed in one bundle:
//
//   - JSON: one document with an array per list, {"centers": [...],
//     "rooms": [...], "desk_pools": [...], "doors": [...], "members": [...],
//     "badges": [...], "passes": [...]}; each object is the API's (the same
//     fields as POST /centers, /rooms, ...).
//   - CSV: one file per list, named after it (centers.csv, rooms.csv,
//     desk_pools.csv, doors.csv, members.csv, badges.csv, passes.csv), UTF-8,
//     comma-separated, a header line naming the columns in any order
//     (Columns). Several CSV files travel as one zip archive of them
//     (folders inside it are ignored).
//
// Every problem is collected, never only the first: each names the file,
// the line, the list and the field, with a code (invalid, duplicate_id,
// exists, retired, missing_ref, and the parse codes malformed and
// unknown_column). A bundle with any problem stores nothing. A dry run
// checks everything in the store's transaction and rolls it back. Imports
// are not idempotent: a second import of the same bundle is refused with
// an "exists" problem per object.
package onboarding

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/smartworkcenters/swc/central/store"
)

// Problem is one thing wrong with a bundle.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"` // 1-based; 0 when the whole file is concerned
	List    string `json:"list,omitempty"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Field != "" {
		b.WriteString(": " + p.Field)
	}
	b.WriteString(": " + p.Code + ": " + p.Message)
	return b.String()
}

// MaxProblems bounds the problems a Report lists; Total counts them all.
const MaxProblems = 1000

// Report is the error of a bundle that was not imported: its problems,
// in file and line order.
type Report struct {
	Problems []Problem `json:"problems"`
	Total    int       `json:"total"`
}

func (r *Report) Error() string {
	if len(r.Problems) == 0 {
		return "onboarding: bundle rejected"
	}
	return fmt.Sprintf("onboarding: nothing imported, %d problems; first %s", r.Total, r.Problems[0])
}

// Is makes errors.Is(err, store.ErrImport) true.
func (r *Report) Is(target error) bool { return target == store.ErrImport }

func (r *Report) add(p Problem) {
	r.Total++
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, p)
	}
}

// source is where an object of the bundle was read.
type source struct {
	file string
	line int
}

// Bundle is a store.Bundle being read from files, with where each object
// came from and the problems met while reading.
type Bundle struct {
	store.Bundle
	sources  map[string][]source // by list, in the order of the list
	problems Report
}

// NewBundle returns an empty bundle.
func NewBundle() *Bundle { return &Bundle{sources: map[string][]source{}} }

func (b *Bundle) problem(file string, line int, list, field, code, format string, args ...any) {
	b.problems.add(Problem{File: file, Line: line, List: list, Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (b *Bundle) from(list, file string, line int) {
	b.sources[list] = append(b.sources[list], source{file, line})
}

// Problems returns the problems met while reading (nil when none).
func (b *Bundle) Problems() *Report {
	if b.problems.Total == 0 {
		return nil
	}
	r := b.problems
	return &r
}

// AddFile reads one file, by its name: NAME.json, LIST.csv or NAME.zip (of
// LIST.csv files).
func (b *Bundle) AddFile(name string, data []byte) {
	base := name[strings.LastIndexAny(name, `/\`)+1:]
	switch ext := strings.ToLower(base[strings.LastIndexByte(base, '.')+1:]); {
	case !strings.Contains(base, "."):
		b.problem(name, 0, "", "", "malformed", "a file name ends with .json, .csv or .zip")
	case ext == "json":
		b.AddJSON(name, data)
	case ext == "csv":
		b.AddCSV(name, strings.TrimSuffix(base, base[strings.LastIndexByte(base, '.'):]), data)
	case ext == "zip":
		b.AddZip(name, data)
	default:
		b.problem(name, 0, "", "", "malformed", "a file name ends with .json, .csv or .zip")
	}
}

// Import creates the bundle with st.Import (or checks it, with
// o.DryRun). When anything is wrong, in the files or against the store,
// it returns a *Report of every problem and stores nothing. Problems met
// while reading do not stop the store's checks of the objects that were
// read (in a dry run), so one answer lists everything.
func Import(ctx context.Context, st store.Store, b *Bundle, o store.ImportOptions) (store.ImportResult, error) {
	rep := b.problems
	if rep.Total > 0 {
		o.DryRun = true
	}
	if b.Len() == 0 && rep.Total == 0 {
		rep.add(Problem{File: "", Code: "invalid", Message: "the bundle holds nothing to import"})
	}
	var res store.ImportResult
	if b.Len() > 0 {
		var err error
		res, err = st.Import(ctx, b.Bundle, o)
		var ie *store.ImportError
		switch {
		case errors.As(err, &ie):
			for _, r := range ie.Rows {
				rep.add(b.locate(r))
			}
			rep.Total += ie.Total - len(ie.Rows)
		case err != nil:
			return res, err
		}
	}
	if rep.Total > 0 {
		sort.SliceStable(rep.Problems, func(i, j int) bool {
			a, c := rep.Problems[i], rep.Problems[j]
			if a.File != c.File {
				return a.File < c.File
			}
			return a.Line < c.Line
		})
		return store.ImportResult{}, &rep
	}
	return res, nil
}

// locate turns a store's row error into a problem of a file and line.
func (b *Bundle) locate(r store.RowError) Problem {
	p := Problem{List: r.List, Field: r.Field, Code: r.Code, Message: r.Message}
	src := b.sources[r.List]
	if r.Row < 1 || r.Row > len(src) {
		return p
	}
	p.File, p.Line = src[r.Row-1].file, src[r.Row-1].line
	if r.Code == "duplicate_id" { // say where the first one is, by file and line
		key := b.key(r.List, r.Row-1)
		for i := 0; i < r.Row-1; i++ {
			if b.key(r.List, i) == key {
				p.Message = fmt.Sprintf("%s is also at %s:%d", key, src[i].file, src[i].line)
				break
			}
		}
	}
	return p
}

// key is what identifies the i-th object of a list.
func (b *Bundle) key(list string, i int) string {
	switch list {
	case store.ListCenters:
		return b.Centers[i].ID
	case store.ListRooms:
		return b.Rooms[i].ID
	case store.ListDeskPools:
		return b.DeskPools[i].CenterID
	case store.ListDoors:
		return b.Doors[i].ID
	case store.ListMembers:
		return b.Members[i].ID
	case store.ListBadges:
		return string(b.Badges[i].UID)
	case store.ListPasses:
		return b.Passes[i].ID
	}
	return ""
}
