package credit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Formats of the exports.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
)

// ErrFormat is returned for an export format other than json or csv.
var ErrFormat = fmt.Errorf("credit: unknown export format; want %s or %s", FormatJSON, FormatCSV)

// Write renders the settlement as "json" or "csv".
func (s *Settlement) Write(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, s)
	case FormatCSV:
		return s.WriteCSV(w)
	}
	return fmt.Errorf("%w: %q", ErrFormat, format)
}

// Write renders the statement as "json" or "csv".
func (st *Statement) Write(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		return writeJSON(w, st)
	case FormatCSV:
		return st.WriteCSV(w)
	}
	return fmt.Errorf("%w: %q", ErrFormat, format)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("credit: write json: %w", err)
	}
	return nil
}

// hours formats minutes as decimal hours with two decimals ("1.25").
func hours(minutes int64) string {
	return strconv.FormatFloat(float64(minutes)/60, 'f', 2, 64)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// SettlementCSVHeader is the header row of Settlement.WriteCSV.
var SettlementCSVHeader = []string{"period", "closed", "line", "center_id", "class", "counterpart_center_id",
	"belongs_to", "minutes", "hours", "rate_cents", "amount_cents"}

// WriteCSV renders the settlement in long form, one money line per row:
//
//   - line "credit": a center's nomadic or cross_center hours in the period;
//   - line "adjustment": a correction of a closed period (belongs_to) for a
//     center; counterpart is the member's home center for cross_center;
//   - line "invoice": what a home center (center_id) is invoiced for its
//     members' hours at a host (counterpart), adjustments included;
//   - line "own_staff_bookings": of a center's credited minutes (credit
//     lines), those that bookings made by the center's own staff cover;
//     information, not money (rate and amount empty);
//   - line "total": what the cooperative pays the center, adjustments included;
//   - line "override", first, only when Override is set: the settlement was
//     computed with rules given on the command line instead of the stored
//     settings; the class column holds what was overridden.
func (s *Settlement) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	p, closed := s.Period.String(), strconv.FormatBool(s.Closed)
	row := func(line, center string, class Class, counterpart string, belongs Period, minutes, rate, amount int64, withMinutes bool) {
		m, h, r := "", "", ""
		if withMinutes {
			m, h, r = itoa(minutes), hours(minutes), itoa(rate)
		}
		_ = cw.Write([]string{p, closed, line, center, string(class), counterpart, belongs.String(), m, h, r, itoa(amount)})
	}
	_ = cw.Write(SettlementCSVHeader)
	if s.Override != "" {
		_ = cw.Write([]string{p, closed, "override", "", s.Override, "", "", "", "", "", ""})
	}
	for _, l := range s.Centers {
		row("credit", l.CenterID, ClassNomadic, "", Period{}, l.NomadicMinutes, l.RateCents, l.NomadicCents, true)
		row("credit", l.CenterID, ClassCrossCenter, "", Period{}, l.CrossCenterMinutes, l.RateCents, l.CrossCenterCents, true)
	}
	for _, a := range s.Adjustments {
		row("adjustment", a.CenterID, a.Class, a.HomeCenterID, a.BelongsTo, a.Minutes, a.RateCents, a.AmountCents, true)
	}
	for _, c := range s.CrossCenter {
		row("invoice", c.HomeCenterID, ClassCrossCenter, c.HostCenterID, c.BelongsTo, c.Minutes, c.RateCents, c.AmountCents, true)
	}
	for _, l := range s.Centers {
		_ = cw.Write([]string{p, closed, "own_staff_bookings", l.CenterID, "", "", "",
			itoa(l.OwnStaffBookingMinutes), hours(l.OwnStaffBookingMinutes), "", ""})
	}
	for _, l := range s.Centers {
		row("total", l.CenterID, "", "", Period{}, 0, 0, l.TotalCents, false)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("credit: write settlement csv: %w", err)
	}
	return nil
}

// StatementCSVHeader is the header row of Statement.WriteCSV.
var StatementCSVHeader = []string{"period", "member_id", "line", "center_id", "class", "source", "bookings",
	"start", "end", "duration_seconds", "credited", "credited_minutes", "credited_hours", "why", "flags", "belongs_to"}

// WriteCSV renders the statement, one row per visit (line "visit") and per
// adjustment (line "adjustment"). Times are RFC 3339 in the statement's
// time zone.
func (st *Statement) WriteCSV(w io.Writer) error {
	loc := time.UTC
	if st.TimeZone != "" {
		if l, err := time.LoadLocation(st.TimeZone); err == nil {
			loc = l
		}
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(StatementCSVHeader)
	p := st.Period.String()
	for _, v := range st.Visits {
		var flags []string
		if v.NoShow {
			flags = append(flags, "no_show")
		}
		if v.UntrustedClock {
			flags = append(flags, "untrusted_clock")
		}
		_ = cw.Write([]string{p, st.MemberID, "visit", v.CenterID, string(v.Class), string(v.Source),
			strings.Join(v.Bookings, ";"), v.Start.In(loc).Format(time.RFC3339), v.End.In(loc).Format(time.RFC3339),
			itoa(int64(v.Duration() / time.Second)), strconv.FormatBool(v.Credited), itoa(v.CreditedMinutes),
			hours(v.CreditedMinutes), string(v.Why), strings.Join(flags, ";"), ""})
	}
	for _, a := range st.Adjustments {
		_ = cw.Write([]string{p, st.MemberID, "adjustment", a.CenterID, string(a.Class), "", "", "", "", "",
			"true", itoa(a.Minutes), hours(a.Minutes), "", "", a.BelongsTo.String()})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("credit: write statement csv: %w", err)
	}
	return nil
}
