package audit

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the first row of WriteCSV.
var csvHeader = []string{"id", "at", "actor_kind", "actor_id", "actor_name", "actor_role", "actor_ip", "actor_user_agent",
	"action", "object_kind", "object_id", "centers", "before", "after"}

// CSVWriter writes entries as CSV (RFC 4180, through encoding/csv) with a
// header row. A cell that a spreadsheet would read as a formula (starting
// with =, +, -, @, a tab or a carriage return) is prefixed with a single
// quote, as OWASP recommends against CSV injection: object names and user
// agents are chosen by whoever made the change.
type CSVWriter struct {
	w      *csv.Writer
	header bool
}

// NewCSVWriter returns a writer to out.
func NewCSVWriter(out io.Writer) *CSVWriter { return &CSVWriter{w: csv.NewWriter(out)} }

// Write writes the entries (the header before the first).
func (c *CSVWriter) Write(entries []Entry) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(csvHeader); err != nil {
			return fmt.Errorf("audit csv: %w", err)
		}
	}
	for _, e := range entries {
		row := []string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339Nano), string(e.Actor.Kind), e.Actor.ID,
			e.Actor.Name, e.Actor.Role, e.Actor.IP, e.Actor.UserAgent, string(e.Action), e.ObjectKind, e.ObjectID,
			strings.Join(e.Centers, " "), string(e.Before), string(e.After)}
		for i := range row {
			row[i] = SafeCell(row[i])
		}
		if err := c.w.Write(row); err != nil {
			return fmt.Errorf("audit csv: %w", err)
		}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("audit csv: %w", err)
	}
	return nil
}

// Flush writes the header when no entry was written, and flushes.
func (c *CSVWriter) Flush() error {
	if !c.header {
		return c.Write(nil)
	}
	c.w.Flush()
	return c.w.Error()
}

// SafeCell prefixes a cell that a spreadsheet would evaluate as a formula
// with a single quote.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
