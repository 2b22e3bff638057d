// Package calendar writes iCalendar (RFC 5545) for bookings: the .ics
// invitation attached to a confirmation, change or cancellation e-mail
// (METHOD:REQUEST or CANCEL, RFC 5546), and a member's private feed of many
// events (no METHOD).
//
//	ics, err := (&calendar.Calendar{Method: calendar.MethodRequest, Events: []calendar.Event{{
//		UID: calendar.BookingUID(b.ID, "swc.example"), Sequence: rev, Stamp: now,
//		Start: b.Start, End: b.End, Summary: "Bureau — Liège", Location: "Rue …, Liège",
//		Status: calendar.StatusConfirmed, Organizer: &org, Attendee: &member}}}).Encode()
//	att := mail.Attachment{Filename: "booking.ics", ContentType: calendar.ContentType(calendar.MethodRequest), Data: ics}
//
// Times are written in UTC (DTSTART:20261208T080000Z), not with the center's
// TZID and a VTIMEZONE: every booking is one concrete span (recurring
// bookings are separate events, never an RRULE), so nothing depends on the
// zone's daylight-saving rules, and UTC is the form every calendar client
// reads the same way; the client shows it in the member's own zone, and
// the center's zone stays in the text of the e-mail and the site.
//
// A change of a booking is the same UID with a higher Sequence; a
// cancellation is METHOD:CANCEL with STATUS:CANCELLED and a higher Sequence
// still. Text is escaped (\\ \; \, \n) and lines are folded at 75 octets
// without splitting a UTF-8 character, with CRLF line ends.
package calendar

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Method is the iTIP method of a calendar sent by e-mail ("" for a feed).
type Method string

// Methods.
const (
	MethodNone    Method = ""
	MethodRequest Method = "REQUEST" // a new or changed booking
	MethodCancel  Method = "CANCEL"  // a cancelled booking
)

// Status is an event's STATUS.
type Status string

// Statuses.
const (
	StatusConfirmed Status = "CONFIRMED"
	StatusTentative Status = "TENTATIVE"
	StatusCancelled Status = "CANCELLED"
)

// DefaultProdID names the producer.
const DefaultProdID = "-//Smart Work Centers//swc-central//EN"

// Person is an organizer or attendee.
type Person struct {
	Name  string
	Email string
}

// Event is one booking.
type Event struct {
	UID         string    // stable per booking: see BookingUID
	Sequence    int       // 0 when booked, higher after each change or the cancellation
	Stamp       time.Time // DTSTAMP: when this version was written
	Start, End  time.Time
	Summary     string
	Location    string
	Description string
	Status      Status // default CONFIRMED (CANCELLED under MethodCancel)
	URL         string // the booking's page
	Organizer   *Person
	Attendee    *Person // the member
}

// Calendar is an iCalendar object.
type Calendar struct {
	ProdID  string // default DefaultProdID
	Method  Method
	Name    string        // a feed's display name (X-WR-CALNAME, NAME)
	Refresh time.Duration // a feed's suggested refresh interval (0: none)
	Events  []Event
}

// ContentType is the MIME type of an .ics with the method, for a mail
// attachment: "text/calendar; method=REQUEST; charset=UTF-8".
func ContentType(m Method) string {
	if m == MethodNone {
		return "text/calendar; charset=UTF-8"
	}
	return "text/calendar; method=" + string(m) + "; charset=UTF-8"
}

// BookingUID is the stable UID of a booking's event.
func BookingUID(bookingID, domain string) string { return "booking-" + bookingID + "@" + domain }

// Error is an invalid calendar, naming the field.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return "calendar: " + e.Field + ": " + e.Message }

func errf(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks the calendar: a method needs exactly one event with an
// organizer and an attendee.
func (c *Calendar) Validate() error {
	switch c.Method {
	case MethodNone:
	case MethodRequest, MethodCancel:
		if len(c.Events) != 1 {
			return errf("events", "an invitation (method %s) holds exactly one event, not %d", c.Method, len(c.Events))
		}
	default:
		return errf("method", "%q; want REQUEST, CANCEL or none", c.Method)
	}
	if err := text("name", c.Name); err != nil {
		return err
	}
	if c.Refresh < 0 {
		return errf("refresh", "negative")
	}
	for i, e := range c.Events {
		if err := e.validate(c.Method); err != nil {
			var ce *Error
			if errors.As(err, &ce) {
				ce.Field = fmt.Sprintf("events[%d].%s", i, ce.Field)
			}
			return err
		}
	}
	return nil
}

func text(field, s string) error {
	if !utf8.ValidString(s) {
		return errf(field, "not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' || r == 0x7f {
			return errf(field, "holds control character %U", r)
		}
	}
	return nil
}

func (e *Event) validate(m Method) error {
	if e.UID == "" || len(e.UID) > 255 || strings.ContainsAny(e.UID, "\r\n") {
		return errf("uid", "required, one line of at most 255 bytes")
	}
	if e.Sequence < 0 {
		return errf("sequence", "negative")
	}
	if e.Stamp.IsZero() {
		return errf("stamp", "required")
	}
	if e.Start.IsZero() || !e.End.After(e.Start) {
		return errf("end", "must be after start")
	}
	for _, f := range []struct{ name, v string }{{"uid", e.UID}, {"summary", e.Summary}, {"location", e.Location}, {"description", e.Description}, {"url", e.URL}} {
		if err := text(f.name, f.v); err != nil {
			return err
		}
	}
	if strings.ContainsAny(e.URL, "\r\n\t ") {
		return errf("url", "holds white space")
	}
	switch e.Status {
	case "", StatusConfirmed, StatusTentative, StatusCancelled:
	default:
		return errf("status", "%q; want CONFIRMED, TENTATIVE or CANCELLED", e.Status)
	}
	if m == MethodCancel && e.Status != "" && e.Status != StatusCancelled {
		return errf("status", "a cancellation is CANCELLED")
	}
	for _, p := range []struct {
		name string
		p    *Person
	}{{"organizer", e.Organizer}, {"attendee", e.Attendee}} {
		if p.p == nil {
			if m != MethodNone {
				return errf(p.name, "required in an invitation (method %s)", m)
			}
			continue
		}
		if p.p.Email == "" || strings.ContainsAny(p.p.Email, "\r\n\t \":;,<>") {
			return errf(p.name+".email", "%q is not an e-mail address", p.p.Email)
		}
		if err := text(p.name+".name", p.p.Name); err != nil {
			return err
		}
		if strings.ContainsAny(p.p.Name, "\r\n") {
			return errf(p.name+".name", "holds a line break")
		}
	}
	return nil
}

// Encode validates and writes the calendar.
func (c *Calendar) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	w := &writer{}
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	prod := c.ProdID
	if prod == "" {
		prod = DefaultProdID
	}
	w.line("PRODID:" + escape(prod))
	w.line("CALSCALE:GREGORIAN")
	if c.Method != MethodNone {
		w.line("METHOD:" + string(c.Method))
	}
	if c.Name != "" {
		w.line("NAME:" + escape(c.Name)) // RFC 7986
		w.line("X-WR-CALNAME:" + escape(c.Name))
	}
	if c.Refresh > 0 {
		d := duration(c.Refresh)
		w.line("REFRESH-INTERVAL;VALUE=DURATION:" + d) // RFC 7986
		w.line("X-PUBLISHED-TTL:" + d)
	}
	for _, e := range c.Events {
		status := e.Status
		if c.Method == MethodCancel {
			status = StatusCancelled
		} else if status == "" {
			status = StatusConfirmed
		}
		w.line("BEGIN:VEVENT")
		w.line("UID:" + escape(e.UID))
		w.line("SEQUENCE:" + strconv.Itoa(e.Sequence))
		w.line("DTSTAMP:" + utc(e.Stamp))
		w.line("DTSTART:" + utc(e.Start))
		w.line("DTEND:" + utc(e.End))
		if e.Summary != "" {
			w.line("SUMMARY:" + escape(e.Summary))
		}
		if e.Location != "" {
			w.line("LOCATION:" + escape(e.Location))
		}
		if e.Description != "" {
			w.line("DESCRIPTION:" + escape(e.Description))
		}
		w.line("STATUS:" + string(status))
		w.line("TRANSP:OPAQUE")
		if e.URL != "" {
			w.line("URL:" + e.URL)
		}
		if p := e.Organizer; p != nil {
			w.line("ORGANIZER" + cn(p.Name) + ":mailto:" + p.Email)
		}
		if p := e.Attendee; p != nil {
			w.line("ATTENDEE" + cn(p.Name) + ";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:" + p.Email)
		}
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return w.b.Bytes(), nil
}

func utc(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// duration writes a positive duration as an RFC 5545 dur-value in whole
// seconds (PT1H, PT90M becomes PT1H30M).
func duration(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	var b strings.Builder
	b.WriteString("PT")
	if h := s / 3600; h > 0 {
		b.WriteString(strconv.FormatInt(h, 10) + "H")
	}
	if m := s % 3600 / 60; m > 0 {
		b.WriteString(strconv.FormatInt(m, 10) + "M")
	}
	if sec := s % 60; sec > 0 {
		b.WriteString(strconv.FormatInt(sec, 10) + "S")
	}
	return b.String()
}

// cn is a CN parameter, quoted (a DQUOTE cannot be in a quoted value, so
// it is dropped, as are line breaks).
func cn(name string) string {
	if name == "" {
		return ""
	}
	name = strings.NewReplacer(`"`, "", "\r", "", "\n", " ").Replace(name)
	return `;CN="` + name + `"`
}

// escape escapes a TEXT value (RFC 5545 3.3.11).
func escape(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`, "\r", `\n`).Replace(s)
}

// writer writes content lines, folded.
type writer struct{ b bytes.Buffer }

// line writes one content line folded at 75 octets (a continuation line is
// a space and at most 74 octets), never inside a UTF-8 character, ending in
// CRLF.
func (w *writer) line(s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.b.WriteString(s[:cut])
		w.b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74
	}
	w.b.WriteString(s)
	w.b.WriteString("\r\n")
}
