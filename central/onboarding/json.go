package onboarding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
)

// AddJSON reads a JSON bundle: one object with an array per list. Each
// element is decoded on its own (unknown fields refused), so that every
// wrong element is reported with the line where it starts.
func (b *Bundle) AddJSON(name string, data []byte) {
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		b.problem(name, lines.at(dec.InputOffset()), "", "", "malformed", "want a JSON object with an array per list (%s)", strings.Join(store.BundleLists(), ", "))
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			b.problem(name, lines.at(dec.InputOffset()), "", "", "malformed", "%v", err)
			return
		}
		list, _ := tok.(string)
		if !knownList(list) {
			b.problem(name, lines.at(dec.InputOffset()), "", list, "unknown_column", "unknown list %q; lists are %s", list, strings.Join(store.BundleLists(), ", "))
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				b.problem(name, lines.at(dec.InputOffset()), "", "", "malformed", "%v", err)
				return
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			b.problem(name, lines.at(dec.InputOffset()), list, "", "malformed", "%s: want an array", list)
			return
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				b.problem(name, lines.at(dec.InputOffset()), list, "", "malformed", "%v", err)
				return
			}
			// The element ends at InputOffset; it starts len(raw) before.
			line := lines.at(dec.InputOffset() - int64(len(raw)))
			if err := b.addJSONItem(list, raw, name, line); err != nil {
				b.problem(name, line, list, err.field, "invalid", "%s", err.msg)
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			b.problem(name, lines.at(dec.InputOffset()), list, "", "malformed", "%v", err)
			return
		}
	}
	if _, err := dec.Token(); err != nil { // }
		b.problem(name, lines.at(dec.InputOffset()), "", "", "malformed", "%v", err)
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		b.problem(name, lines.at(dec.InputOffset()), "", "", "malformed", "data after the JSON object")
	}
}

func knownList(list string) bool {
	for _, l := range store.BundleLists() {
		if l == list {
			return true
		}
	}
	return false
}

// itemError is an element that does not decode, and the field concerned.
type itemError struct{ field, msg string }

func decodeItem(raw json.RawMessage, v any) *itemError {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typ *json.UnmarshalTypeError
	var tpe *time.ParseError
	switch {
	case errors.As(err, &typ):
		return &itemError{typ.Field, fmt.Sprintf("%s: want a JSON %s, not %s", typ.Field, typ.Type, typ.Value)}
	case errors.As(err, &tpe):
		return &itemError{fieldHolding(raw, tpe.Value), fmt.Sprintf("%q is not an RFC 3339 time such as 2026-03-02T09:00:00+01:00", tpe.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &itemError{f, fmt.Sprintf("unknown field %q", f)}
	}
	return &itemError{"", err.Error()}
}

// fieldHolding names the field of the object raw whose string value is v
// ("" when none is).
func fieldHolding(raw json.RawMessage, v string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	for k, x := range m {
		var s string
		if json.Unmarshal(x, &s) == nil && s == v {
			return k
		}
	}
	return ""
}

// addJSONItem decodes one element of list and appends it.
func (b *Bundle) addJSONItem(list string, raw json.RawMessage, file string, line int) *itemError {
	var err *itemError
	switch list {
	case store.ListCenters:
		var x domain.Center
		if err = decodeItem(raw, &x); err == nil {
			b.Centers = append(b.Centers, x)
		}
	case store.ListRooms:
		var x domain.Room
		if err = decodeItem(raw, &x); err == nil {
			b.Rooms = append(b.Rooms, x)
		}
	case store.ListDeskPools:
		var x domain.DeskPool
		if err = decodeItem(raw, &x); err == nil {
			b.DeskPools = append(b.DeskPools, x)
		}
	case store.ListDoors:
		var x domain.Door
		if err = decodeItem(raw, &x); err == nil {
			b.Doors = append(b.Doors, x)
		}
	case store.ListMembers:
		var x domain.Member
		if err = decodeItem(raw, &x); err == nil {
			b.Members = append(b.Members, x)
		}
	case store.ListBadges:
		var x domain.Badge
		if err = decodeItem(raw, &x); err == nil {
			b.Badges = append(b.Badges, x)
		}
	case store.ListPasses:
		var x domain.Pass
		if err = decodeItem(raw, &x); err == nil {
			b.Passes = append(b.Passes, x)
		}
	}
	if err == nil {
		b.from(list, file, line)
	}
	return err
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int64 // offsets of the line starts

func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range data {
		if c == '\n' {
			idx = append(idx, int64(i+1))
		}
	}
	return idx
}

// at returns the line of the byte at offset.
func (l lineIndex) at(off int64) int {
	lo, hi := 0, len(l)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if l[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}
