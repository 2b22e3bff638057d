package calendar_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/calendar"
)

var (
	stamp = time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)
	brx   = mustZone("Europe/Brussels")
)

func mustZone(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func booking() calendar.Event {
	return calendar.Event{
		UID:         calendar.BookingUID("b42", "swc.example"),
		Sequence:    1,
		Stamp:       stamp,
		Start:       time.Date(2026, 12, 8, 9, 0, 0, 0, brx),
		End:         time.Date(2026, 12, 8, 17, 0, 0, 0, brx),
		Summary:     "Bureau, Liège; open space",
		Location:    `Rue de l'Écluse 3, 4000 Liège`,
		Description: "Réservation b42.\nBadge à la porte d'entrée\\côté parking.",
		URL:         "https://book.swc.example/bookings/b42",
		Organizer:   &calendar.Person{Name: "Smart Work Centers", Email: "noreply@swc.example"},
		Attendee:    &calendar.Person{Name: `Anaïs "Ana" Dupont`, Email: "anais@example.org"},
	}
}

// TestGolden: an invitation, byte for byte.
func TestGolden(t *testing.T) {
	got, err := (&calendar.Calendar{Method: calendar.MethodRequest, Events: []calendar.Event{booking()}}).Encode()
	require.NoError(t, err)
	want := "BEGIN:VCALENDAR\r\n" +
		"VERSION:2.0\r\n" +
		"PRODID:-//Smart Work Centers//swc-central//EN\r\n" +
		"CALSCALE:GREGORIAN\r\n" +
		"METHOD:REQUEST\r\n" +
		"BEGIN:VEVENT\r\n" +
		"UID:booking-b42@swc.example\r\n" +
		"SEQUENCE:1\r\n" +
		"DTSTAMP:20261207T103000Z\r\n" +
		"DTSTART:20261208T080000Z\r\n" +
		"DTEND:20261208T160000Z\r\n" +
		"SUMMARY:Bureau\\, Liège\\; open space\r\n" +
		"LOCATION:Rue de l'Écluse 3\\, 4000 Liège\r\n" +
		"DESCRIPTION:Réservation b42.\\nBadge à la porte d'entrée\\\\côté parking.\r\n" +
		"STATUS:CONFIRMED\r\n" +
		"TRANSP:OPAQUE\r\n" +
		"URL:https://book.swc.example/bookings/b42\r\n" +
		"ORGANIZER;CN=\"Smart Work Centers\":mailto:noreply@swc.example\r\n" +
		"ATTENDEE;CN=\"Anaïs Ana Dupont\";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP\r\n" +
		" =FALSE:mailto:anais@example.org\r\n" +
		"END:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	require.Equal(t, want, string(got))
}

// prop is a parsed content line.
type prop struct {
	name   string
	params map[string]string
	value  string
}

// parse is a small independent iCalendar reader: it unfolds lines, splits
// name, parameters (quoted or not) and value, and checks every physical
// line is at most 75 octets, valid UTF-8 and ends in CRLF.
func parse(t *testing.T, data []byte) []prop {
	t.Helper()
	s := string(data)
	require.True(t, strings.HasSuffix(s, "\r\n"), "no CRLF at the end")
	physical := strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n")
	var logical []string
	for _, l := range physical {
		require.NotContains(t, l, "\n", "bare LF")
		require.NotContains(t, l, "\r", "bare CR")
		require.LessOrEqual(t, len(l), 75, "line longer than 75 octets: %q", l)
		require.True(t, utf8.ValidString(l), "line splits a UTF-8 character: %q", l)
		if strings.HasPrefix(l, " ") {
			require.NotEmpty(t, logical, "continuation first")
			logical[len(logical)-1] += l[1:]
			continue
		}
		logical = append(logical, l)
	}
	var out []prop
	for _, l := range logical {
		p := prop{params: map[string]string{}}
		i, quoted := 0, false
		for ; i < len(l); i++ {
			if l[i] == '"' {
				quoted = !quoted
			}
			if !quoted && l[i] == ':' {
				break
			}
		}
		require.Less(t, i, len(l), "no value in %q", l)
		head, value := l[:i], l[i+1:]
		parts := strings.Split(head, ";") // our CN values hold no ';'
		p.name = parts[0]
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, "parameter %q", kv)
			p.params[k] = strings.Trim(v, `"`)
		}
		p.value = value
		out = append(out, p)
	}
	return out
}

// unescape reverses TEXT escaping.
func unescape(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			require.NotContains(t, []byte{';', ','}, s[i], "unescaped %q in %q", s[i], s)
			b.WriteByte(s[i])
			continue
		}
		i++
		require.Less(t, i, len(s), "lone backslash at the end of %q", s)
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		case '\\', ';', ',':
			b.WriteByte(s[i])
		default:
			t.Fatalf("bad escape \\%c in %q", s[i], s)
		}
	}
	return b.String()
}

func eventsOf(t *testing.T, props []prop) []map[string]prop {
	t.Helper()
	var out []map[string]prop
	var cur map[string]prop
	for _, p := range props {
		switch {
		case p.name == "BEGIN" && p.value == "VEVENT":
			cur = map[string]prop{}
		case p.name == "END" && p.value == "VEVENT":
			out = append(out, cur)
			cur = nil
		case cur != nil:
			cur[p.name] = p
		}
	}
	return out
}

// TestFeedRoundTrip: a feed of many events, with every character that
// needs escaping and long accented text, reads back the same.
func TestFeedRoundTrip(t *testing.T) {
	var events []calendar.Event
	texts := []string{
		"Salle « Écluse », 2e étage; projecteur\\écran",
		strings.Repeat("Vergaderzaal één, Gent — ", 12),
		"a,b;c\\d\ne\r\nf",
		strings.Repeat("é", 200),
		strings.Repeat("x", 74) + "é" + strings.Repeat("€", 40),
		"日本語のテキスト" + strings.Repeat("🙂", 30),
	}
	for i, s := range texts {
		e := booking()
		e.UID = calendar.BookingUID("b"+string(rune('0'+i)), "swc.example")
		e.Sequence = i
		e.Summary, e.Location, e.Description = s, s+" (lieu)", s+"\n(description)"
		e.Start = e.Start.AddDate(0, 0, 7*i) // across the DST change of March
		e.End = e.End.AddDate(0, 0, 7*i)
		e.Organizer, e.Attendee = nil, nil
		events = append(events, e)
	}
	events[2].Status = calendar.StatusCancelled
	cal := &calendar.Calendar{Name: "Mes réservations — Smart Work Centers", Refresh: time.Hour, Events: events}
	data, err := cal.Encode()
	require.NoError(t, err)
	props := parse(t, data)
	require.Equal(t, "VCALENDAR", props[0].value)
	for _, p := range props {
		require.NotEqual(t, "METHOD", p.name, "a feed has no METHOD")
		if p.name == "X-WR-CALNAME" {
			require.Equal(t, cal.Name, unescape(t, p.value))
		}
		if p.name == "REFRESH-INTERVAL" {
			require.Equal(t, "PT1H", p.value)
		}
	}
	got := eventsOf(t, props)
	require.Len(t, got, len(events))
	for i, e := range events {
		g := got[i]
		norm := strings.ReplaceAll(texts[i], "\r\n", "\n")
		require.Equal(t, e.UID, unescape(t, g["UID"].value))
		require.Equal(t, strconv.Itoa(e.Sequence), g["SEQUENCE"].value)
		require.Equal(t, norm, unescape(t, g["SUMMARY"].value))
		require.Equal(t, norm+" (lieu)", unescape(t, g["LOCATION"].value))
		require.Equal(t, norm+"\n(description)", unescape(t, g["DESCRIPTION"].value))
		start, err := time.Parse("20060102T150405Z", g["DTSTART"].value)
		require.NoError(t, err)
		require.True(t, start.Equal(e.Start), "start %v, want %v", start, e.Start)
		end, err := time.Parse("20060102T150405Z", g["DTEND"].value)
		require.NoError(t, err)
		require.True(t, end.Equal(e.End))
		want := "CONFIRMED"
		if i == 2 {
			want = "CANCELLED"
		}
		require.Equal(t, want, g["STATUS"].value)
	}
	// 9:00 in Brussels is 08:00Z in winter and 07:00Z in summer.
	require.Equal(t, "20261208T080000Z", got[0]["DTSTART"].value)
}

// TestFolding: long lines of two-, three- and four-byte characters fold
// at 75 octets without splitting one, and unfold to the original.
func TestFolding(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("é", 100),
		"x" + strings.Repeat("é", 100),
		"xx" + strings.Repeat("€", 100),
		"xxx" + strings.Repeat("🙂", 100),
		strings.Repeat("a", 66), // SUMMARY: + 66 = 74
		strings.Repeat("a", 67), // 75
		strings.Repeat("a", 68), // 76: folds
	} {
		e := booking()
		e.Summary = s
		data, err := (&calendar.Calendar{Events: []calendar.Event{e}}).Encode()
		require.NoError(t, err)
		got := eventsOf(t, parse(t, data))
		require.Equal(t, s, unescape(t, got[0]["SUMMARY"].value))
		if len("SUMMARY:"+s) <= 75 {
			require.Contains(t, string(data), "\r\nSUMMARY:"+s+"\r\n", "a line of at most 75 octets was folded")
		}
	}
}

// TestCancelAndChange: a change keeps the UID with a higher sequence; a
// cancellation says CANCEL and CANCELLED.
func TestCancelAndChange(t *testing.T) {
	e := booking()
	e.Sequence = 2
	data, err := (&calendar.Calendar{Method: calendar.MethodCancel, Events: []calendar.Event{e}}).Encode()
	require.NoError(t, err)
	props := parse(t, data)
	var method string
	for _, p := range props {
		if p.name == "METHOD" {
			method = p.value
		}
	}
	require.Equal(t, "CANCEL", method)
	ev := eventsOf(t, props)[0]
	require.Equal(t, "CANCELLED", ev["STATUS"].value)
	require.Equal(t, "2", ev["SEQUENCE"].value)
	require.Equal(t, "booking-b42@swc.example", ev["UID"].value)
	require.Equal(t, "mailto:anais@example.org", ev["ATTENDEE"].value)
	require.Equal(t, "Anaïs Ana Dupont", ev["ATTENDEE"].params["CN"])
	require.Equal(t, "text/calendar; method=CANCEL; charset=UTF-8", calendar.ContentType(calendar.MethodCancel))
	require.Equal(t, "text/calendar; charset=UTF-8", calendar.ContentType(calendar.MethodNone))
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		cal         func() *calendar.Calendar
	}{
		{"two events in an invitation", "events", func() *calendar.Calendar {
			return &calendar.Calendar{Method: calendar.MethodRequest, Events: []calendar.Event{booking(), booking()}}
		}},
		{"unknown method", "method", func() *calendar.Calendar {
			return &calendar.Calendar{Method: "PUBLISH!", Events: []calendar.Event{booking()}}
		}},
		{"no uid", "events[0].uid", func() *calendar.Calendar {
			e := booking()
			e.UID = ""
			return &calendar.Calendar{Events: []calendar.Event{e}}
		}},
		{"end before start", "events[0].end", func() *calendar.Calendar {
			e := booking()
			e.End = e.Start
			return &calendar.Calendar{Events: []calendar.Event{e}}
		}},
		{"no stamp", "events[0].stamp", func() *calendar.Calendar {
			e := booking()
			e.Stamp = time.Time{}
			return &calendar.Calendar{Events: []calendar.Event{e}}
		}},
		{"invitation without organizer", "events[0].organizer", func() *calendar.Calendar {
			e := booking()
			e.Organizer = nil
			return &calendar.Calendar{Method: calendar.MethodRequest, Events: []calendar.Event{e}}
		}},
		{"bad attendee", "events[0].attendee.email", func() *calendar.Calendar {
			e := booking()
			e.Attendee.Email = "a@b.c\r\nX:y"
			return &calendar.Calendar{Method: calendar.MethodRequest, Events: []calendar.Event{e}}
		}},
		{"cancel confirmed", "events[0].status", func() *calendar.Calendar {
			e := booking()
			e.Status = calendar.StatusConfirmed
			return &calendar.Calendar{Method: calendar.MethodCancel, Events: []calendar.Event{e}}
		}},
		{"control character", "events[0].summary", func() *calendar.Calendar {
			e := booking()
			e.Summary = "a\x00b"
			return &calendar.Calendar{Events: []calendar.Event{e}}
		}},
		{"bad UTF-8", "events[0].description", func() *calendar.Calendar {
			e := booking()
			e.Description = "\xff"
			return &calendar.Calendar{Events: []calendar.Event{e}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cal().Encode()
			var ce *calendar.Error
			require.True(t, errors.As(err, &ce), "error %v", err)
			require.Equal(t, tc.field, ce.Field, "error %v", err)
		})
	}
}
