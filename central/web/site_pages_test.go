package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/mail"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/central/store/sqlite"
	"github.com/smartworkcenters/swc/central/web"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// site is a booking site over SQLite: c1 "Gent" (Brussels, one desk, room
// r1 for 4) and c2 "Lisboa" (Lisbon, two desks), open 08:00–18:00 every
// day; member n1 (Nora, signed in) and m2 (Bert).
type site struct {
	t      *testing.T
	st     store.Store
	srv    *httptest.Server
	w      *web.Web
	cookie string
	csrf   string
	hours  *ownHours
	log    *syncBuffer
	// contentType is the member API requests' (default application/json).
	contentType string
}

// ownHours is the ledger as the site sees it: it records which member's
// statement was asked for.
type ownHours struct{ asked []string }

func (h *ownHours) Settlement(context.Context, credit.Period) (*credit.Settlement, error) {
	return &credit.Settlement{}, nil
}

func (h *ownHours) Statement(_ context.Context, member string, p credit.Period) (*credit.Statement, error) {
	h.asked = append(h.asked, member)
	start := p.Start(time.UTC).Add(9 * time.Hour)
	return &credit.Statement{MemberID: member, Period: p, CreditedMinutes: 150, Visits: []credit.Visit{
		{MemberID: member, CenterID: "c1", Start: start, End: start.Add(150 * time.Minute), Credited: true, CreditedMinutes: 150}}}, nil
}

func (h *ownHours) DailyMinutes(context.Context, string, credit.Period) ([]int64, error) {
	return nil, nil
}

func everyDayHours() domain.OpeningHours {
	var h domain.OpeningHours
	for d := range h {
		h[d] = []domain.Span{{Open: 8 * 60, Close: 18 * 60}}
	}
	return h
}

func newSite(t *testing.T, withMail func(store.Store) *mail.Outbox) *site {
	t.Helper()
	ctx := audit.WithSystem(context.Background(), "test")
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "swc.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c1", Name: "Gent", TimeZone: "Europe/Brussels", Hours: everyDayHours()}))
	require.NoError(t, st.CreateCenter(ctx, domain.Center{ID: "c2", Name: "Lisboa", TimeZone: "Europe/Lisbon", Hours: everyDayHours()}))
	require.NoError(t, st.CreateRoom(ctx, domain.Room{ID: "r1", CenterID: "c1", Name: "Blue room", Capacity: 4}))
	require.NoError(t, st.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c1", Capacity: 1}))
	require.NoError(t, st.Places().PutDeskPool(ctx, domain.DeskPool{CenterID: "c2", Capacity: 2}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "n1", Name: "Nora Nomad", Email: "nora@example.org", Status: domain.MemberActive}))
	require.NoError(t, st.CreateMember(ctx, domain.Member{ID: "m2", Name: "Bert Leuven", Email: "bert@example.org", Status: domain.MemberActive}))
	s := &site{t: t, st: st, hours: &ownHours{}, log: &syncBuffer{}}
	cfg := web.Config{Store: st, Logger: slog.New(slog.NewJSONHandler(s.log, nil)), Hours: s.hours}
	if withMail != nil {
		cfg.Mail = withMail(st)
		cfg.MailFrom = "Smart Work Centers <noreply@swc.example>"
	}
	s.w, err = web.New(cfg)
	require.NoError(t, err)
	t.Cleanup(s.w.Close)
	s.srv = httptest.NewServer(s.w)
	t.Cleanup(s.srv.Close)
	s.cookie, s.csrf = memberSession(t, st, "n1")
	return s
}

// memberSession makes a member's session in the store, as the sign-in
// would: the cookie's value and the CSRF token.
func memberSession(t *testing.T, st store.Store, member string) (string, string) {
	id := store.NewSecret("s_") + store.NewSecret("")
	csrf := store.NewSecret("")
	now := time.Now()
	require.NoError(t, st.Sessions().CreateSession(context.Background(), id, store.Session{SubjectKind: store.SubjectMember, SubjectID: member,
		CSRF: csrf, CreatedMs: now.UnixMilli(), LastSeenMs: now.UnixMilli(), IdleMs: time.Hour.Milliseconds(), ExpiresMs: now.Add(time.Hour).UnixMilli()}))
	return id, csrf
}

type reply struct {
	code     int
	body     string
	location string
	header   http.Header
}

func (s *site) do(method, path, lang string, form url.Values) reply {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		form.Set("csrf", s.csrf)
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	require.NoError(s.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	req.AddCookie(&http.Cookie{Name: "swc_session", Value: s.cookie})
	res, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(s.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(s.t, err)
	return reply{res.StatusCode, string(b), res.Header.Get("Location"), res.Header}
}

func (s *site) get(path, lang string) reply { return s.do("GET", path, lang, nil) }

func (s *site) post(path, lang string, form url.Values) reply { return s.do("POST", path, lang, form) }

// tuesday is the date of the first Tuesday at least two days from now,
// in Brussels.
func tuesday() time.Time {
	loc, _ := time.LoadLocation("Europe/Brussels")
	d := time.Now().In(loc).AddDate(0, 0, 2)
	for d.Weekday() != time.Tuesday {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
}

func ymd(t time.Time) string { return t.Format("2006-01-02") }

func bookForm(center, room string, day time.Time, from, to string) url.Values {
	return url.Values{"center": {center}, "room": {room}, "date": {ymd(day)}, "from": {from}, "to": {to}}
}

// noMissingKeys fails on a catalog key the page lacks.
func noMissingKeys(t *testing.T, body string) {
	t.Helper()
	require.NotContains(t, body, "⟦", "a catalog key is missing")
}

// TestSiteFind: "where can I work on Tuesday 9–17?" across the network
// answers every center in its own zone, labelled; one center, a room for
// N people, and bad input refused in the member's language naming the
// field.
func TestSiteFind(t *testing.T) {
	s := newSite(t, nil)
	day := ymd(tuesday())
	cases := []struct {
		name, query, lang string
		code              int
		want, not         []string
	}{
		{"network", "date=" + day + "&from=09:00&to=17:00", "en", 200,
			[]string{`data-center="c1"`, `data-center="c2"`, "09:00–17:00 CE", "09:00–17:00 WE", "Europe/Lisbon", "1 desk free of 1", "2 desks free of 2", "Blue room"}, nil},
		{"one center", "date=" + day + "&from=09:00&to=17:00&center=c2", "en", 200, []string{`data-center="c2"`}, []string{`data-center="c1"`}},
		{"room for 3", "date=" + day + "&from=10:00&to=12:00&people=3", "nl-BE", 200,
			[]string{"Blue room", "4 plaatsen", "room=r1"}, nil},
		{"room for 5 fits nowhere", "date=" + day + "&from=10:00&to=12:00&people=5&center=c1", "en", 200,
			[]string{"Nothing free the whole time."}, []string{"Blue room"}},
		{"people refused in French", "date=" + day + "&from=10:00&to=12:00&people=0", "fr-BE", 422,
			[]string{`data-code="invalid"`, "Cette valeur n&#39;est pas valable.", "(Personnes)"}, nil},
		{"unknown center", "date=" + day + "&from=10:00&to=12:00&center=zz", "en", 422,
			[]string{`data-code="unknown_center"`, "There is no such center.", "(Center)"}, nil},
		{"bad time", "date=" + day + "&from=9h&to=12:00", "nl-BE", 422, []string{"Deze waarde is niet geldig.", "(Van)"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.get("/my/find?"+tc.query, tc.lang)
			require.Equal(t, tc.code, r.code, r.body)
			noMissingKeys(t, r.body)
			for _, w := range tc.want {
				require.Contains(t, r.body, w)
			}
			for _, w := range tc.not {
				require.NotContains(t, r.body, w)
			}
		})
	}
}

// TestSiteWeek: a center's week in its own zone, with free desks per hour.
func TestSiteWeek(t *testing.T) {
	s := newSite(t, nil)
	r := s.get("/my/centers/c2/week?date="+ymd(tuesday()), "en")
	require.Equal(t, 200, r.code, r.body)
	noMissingKeys(t, r.body)
	require.Contains(t, r.body, "Europe/Lisbon")
	require.Contains(t, r.body, "08:00–09:00")
	require.Contains(t, r.body, "17:00–18:00")
	require.Contains(t, r.body, "2 desks free")
	require.Equal(t, 7, strings.Count(r.body, `class="card day"`))
	require.Equal(t, 404, s.get("/my/centers/zz/week", "en").code)
}

// TestSiteBookChangeCancel: a desk booked appears on the home page; the
// last desk taken is refused with the reason (English and Dutch); outside
// opening hours names the field; change and cancel work on one's own
// booking only.
func TestSiteBookChangeCancel(t *testing.T) {
	s := newSite(t, nil)
	day := tuesday()
	r := s.get("/my/book?"+bookForm("c1", "", day, "09:00", "17:00").Encode(), "en")
	require.Equal(t, 200, r.code, r.body)
	require.Contains(t, r.body, "Europe/Brussels")

	r = s.post("/my/bookings", "en", bookForm("c1", "", day, "09:00", "17:00"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, "/my/", r.location)
	home := s.get("/my/", "en")
	require.Contains(t, home.body, `id="flash"`)
	require.Contains(t, home.body, "Booked: Gent")
	require.Contains(t, home.body, "09:00–17:00 CE")
	id := regexp.MustCompile(`data-booking="([^"]+)"`).FindStringSubmatch(home.body)
	require.NotNil(t, id, home.body)
	require.NotContains(t, home.body, "Checked in at")

	// The member's badge checks the booking in: the home page says when and where.
	ctx := audit.WithSystem(context.Background(), "test")
	require.NoError(t, s.st.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "Gent front"}))
	at := time.Date(day.Year(), day.Month(), day.Day(), 9, 2, 0, 0, brussels(t))
	_, err := s.st.CheckIns().CheckIn(ctx, store.CheckIn{BookingID: id[1], AtMs: at.UnixMilli(), Door: "d1", Seq: 7})
	require.NoError(t, err)
	require.Contains(t, s.get("/my/", "en").body, "Checked in at 09:02 at Gent front")
	require.Contains(t, s.get("/my/", "nl-BE").body, "Ingecheckt om 09:02 aan Gent front")

	// Another member's session: the desk is taken.
	other, csrf := memberSession(t, s.st, "m2")
	bert := &site{t: t, st: s.st, srv: s.srv, cookie: other, csrf: csrf}
	for _, tc := range []struct{ lang, want, field string }{
		{"en", "Every desk is taken at some time then.", "(From)"},
		{"nl-BE", "Alle werkplekken zijn dan op een bepaald moment bezet.", "(Van)"},
	} {
		r = bert.post("/my/bookings", tc.lang, bookForm("c1", "", day, "10:00", "12:00"))
		require.Equal(t, http.StatusUnprocessableEntity, r.code)
		require.Contains(t, r.body, `data-code="no_desk_left"`)
		require.Contains(t, r.body, tc.want)
		require.Contains(t, r.body, tc.field)
		require.Contains(t, r.body, `value="10:00"`, "the form keeps what was typed")
	}
	for _, tc := range []struct {
		name string
		form url.Values
		code string
	}{
		{"outside hours", bookForm("c2", "", day, "07:00", "09:00"), "outside_opening_hours"},
		{"in the past", bookForm("c2", "", time.Now().AddDate(0, 0, -2), "09:00", "10:00"), "in_the_past"},
		{"too far ahead", bookForm("c2", "", time.Now().AddDate(0, 3, 0), "09:00", "10:00"), "too_far_ahead"},
		{"room too small", func() url.Values { f := bookForm("c1", "r1", day, "09:00", "10:00"); f.Set("people", "6"); return f }(), "room_too_small"},
		{"unknown center", bookForm("zz", "", day, "09:00", "10:00"), "unknown_center"},
		{"bad date", bookForm("c2", "", day, "09:00", "10:00"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == "" {
				tc.form.Set("date", "next tuesday")
				tc.code = "invalid"
			}
			r := bert.post("/my/bookings", "en", tc.form)
			require.Equal(t, http.StatusUnprocessableEntity, r.code, r.body)
			require.Contains(t, r.body, `data-code="`+tc.code+`"`)
			noMissingKeys(t, r.body)
		})
	}

	// Change and cancel: Bert cannot see Nora's booking.
	require.Equal(t, http.StatusNotFound, bert.get("/my/bookings/"+id[1], "en").code)
	require.Equal(t, http.StatusNotFound, bert.post("/my/bookings/"+id[1]+"/cancel", "en", url.Values{}).code)
	page := s.get("/my/bookings/"+id[1], "en")
	require.Equal(t, 200, page.code)
	require.Contains(t, page.body, `id="change-form"`)
	r = s.post("/my/bookings/"+id[1]+"/change", "en", url.Values{"date": {ymd(day)}, "from": {"10:00"}, "to": {"19:00"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Contains(t, r.body, "The center is not open the whole time.")
	r = s.post("/my/bookings/"+id[1]+"/change", "en", url.Values{"date": {ymd(day)}, "from": {"10:00"}, "to": {"16:00"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Contains(t, s.get("/my/", "en").body, "10:00–16:00 CE")
	r = s.post("/my/bookings/"+id[1]+"/cancel", "fr-BE", url.Values{})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	home = s.get("/my/", "fr-BE")
	require.Contains(t, home.body, "Annulé : Gent")
	require.Contains(t, home.body, `id="no-bookings"`)
	r = s.post("/my/bookings/"+id[1]+"/cancel", "en", url.Values{})
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Contains(t, r.body, `data-code="already_cancelled"`)

	// A form without the session's CSRF token is refused.
	r = s.do("POST", "/my/bookings", "en", nil)
	require.Equal(t, http.StatusForbidden, r.code)
}

// TestSiteRecurringAndRange: every Tuesday for 8 weeks, one of them full,
// reports 7 made and the one refused with its reason; cancelling a date
// range cancels the bookings in it and leaves the others.
func TestSiteRecurringAndRange(t *testing.T) {
	s := newSite(t, nil)
	day := tuesday()
	other, csrf := memberSession(t, s.st, "m2")
	bert := &site{t: t, st: s.st, srv: s.srv, cookie: other, csrf: csrf}
	r := bert.post("/my/bookings", "en", bookForm("c1", "", day.AddDate(0, 0, 14), "08:00", "18:00"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	f := bookForm("c1", "", day, "09:00", "17:00")
	f.Set("repeat", "8")
	f.Set("every", "1")
	r = s.post("/my/bookings", "nl-BE", f)
	require.Equal(t, 200, r.code, r.body)
	noMissingKeys(t, r.body)
	require.Contains(t, r.body, "7 gereserveerd, 1 niet mogelijk.")
	require.Equal(t, 7, strings.Count(r.body, `class="made"`))
	require.Equal(t, 1, strings.Count(r.body, `class="failed"`))
	require.Contains(t, r.body, `data-code="no_desk_left"`)

	bad := bookForm("c1", "", day, "09:00", "17:00")
	bad.Set("repeat", "53")
	r = s.post("/my/bookings", "en", bad)
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Contains(t, r.body, "(Times)")

	// Holidays: the second and third week.
	r = s.post("/my/bookings/cancel-range", "en", url.Values{"from": {ymd(day.AddDate(0, 0, 7))}, "to": {ymd(day.AddDate(0, 0, 20))}})
	require.Equal(t, 200, r.code, r.body)
	require.Contains(t, r.body, "1 booking cancelled from", "the 14th day was Bert's")
	bs, err := s.st.ListBookings(context.Background(), store.BookingFilter{MemberID: "n1"})
	require.NoError(t, err)
	confirmed := 0
	for _, b := range bs.Items {
		if b.Status == domain.BookingConfirmed {
			confirmed++
		}
	}
	require.Equal(t, 6, confirmed)
	r = s.post("/my/bookings/cancel-range", "fr-BE", url.Values{"from": {ymd(day)}, "to": {"demain"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.code)
	require.Contains(t, r.body, "(Dernier jour)")
}

// TestSiteHoursAndDenials: the hours page asks the ledger for the signed-in
// member's statement only; the denials page shows the member's own refused
// taps with the reason in words, not their granted ones nor others'.
func TestSiteHoursAndDenials(t *testing.T) {
	s := newSite(t, nil)
	r := s.get("/my/hours", "en")
	require.Equal(t, 200, r.code, r.body)
	noMissingKeys(t, r.body)
	require.Contains(t, r.body, "2.50 h")
	require.Contains(t, r.body, "Gent")
	require.Equal(t, []string{"n1"}, s.hours.asked)

	ctx := audit.WithSystem(context.Background(), "test")
	require.NoError(t, s.st.CreateDoor(ctx, domain.Door{ID: "d1", CenterID: "c1", Name: "Gent front"}))
	now := time.Now()
	tap := func(seq uint64, member string, reason protocol.Reason, ago time.Duration) protocol.Event {
		return protocol.Event{Seq: seq, TimeMs: now.Add(-ago).UnixMilli(), Trusted: true, Boot: "b1", Kind: protocol.EventTap,
			UID: "04A1B2C3", Member: member, Reason: reason, WLVersion: 1}
	}
	_, err := s.st.AppendEvents(ctx, "d1", now.UnixMilli(), []protocol.Event{
		tap(1, "n1", protocol.Reason("denied_no_booking"), time.Hour),
		tap(2, "n1", protocol.Reason("granted_booking"), 50*time.Minute),
		tap(3, "m2", protocol.Reason("denied_revoked"), 40*time.Minute),
		tap(4, "n1", protocol.Reason("denied_outside_window"), 30*time.Minute),
	})
	require.NoError(t, err)
	for _, tc := range []struct{ lang, want, not string }{
		{"en", "denied: no booking or pass here", "granted"},
		{"fr-BE", "refusé : ni réservation ni abonnement ici", "badge révoqué"},
	} {
		r = s.get("/my/denials", tc.lang)
		require.Equal(t, 200, r.code, r.body)
		noMissingKeys(t, r.body)
		require.Contains(t, r.body, tc.want)
		require.Contains(t, r.body, "Gent front")
		require.NotContains(t, r.body, tc.not)
		require.Equal(t, 2, strings.Count(r.body, `<span class="bad">`))
	}
}

// TestSiteCalendarFeed: the feed URL is made once, serves the member's
// bookings as RFC 5545 without a session, and resetting it makes the old
// URL answer 404; the reset is audited as the member's.
func TestSiteCalendarFeed(t *testing.T) {
	s := newSite(t, nil)
	require.Contains(t, s.get("/my/calendar", "en").body, `id="feed-none"`)
	r := s.post("/my/bookings", "en", bookForm("c2", "", tuesday(), "09:00", "12:00"))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)

	feedURL := func() string {
		r := s.post("/my/calendar/reset", "en", url.Values{})
		require.Equal(t, 200, r.code, r.body)
		m := regexp.MustCompile(`id="feed-url"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(r.body)
		require.NotNil(t, m, r.body)
		return m[1]
	}
	first := feedURL()
	require.True(t, strings.HasPrefix(first, s.srv.URL+"/my/calendar/swcf_"), first)
	require.Contains(t, s.get("/my/calendar", "en").body, `id="feed-since"`)
	require.NotContains(t, s.get("/my/calendar", "en").body, first, "the URL is shown once")

	fetch := func(u string) (int, string, string) {
		res, err := http.Get(u) // no cookie: calendar clients have none
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header.Get("Content-Type")
	}
	code, body, ctype := fetch(first)
	require.Equal(t, 200, code, body)
	require.Equal(t, "text/calendar; charset=UTF-8", ctype)
	require.Contains(t, body, "BEGIN:VCALENDAR\r\n")
	require.NotContains(t, body, "METHOD:")
	require.Contains(t, body, "SUMMARY:Smart Work Centers: Lisboa")
	require.Contains(t, body, "SEQUENCE:0")
	require.Regexp(t, `DTSTART:\d{8}T\d{6}Z`, body)

	second := feedURL()
	require.NotEqual(t, first, second)
	code, _, _ = fetch(first)
	require.Equal(t, http.StatusNotFound, code, "the old URL is gone")
	code, _, _ = fetch(second)
	require.Equal(t, 200, code)
	code, _, _ = fetch(s.srv.URL + "/my/calendar/swcf_guess.ics")
	require.Equal(t, http.StatusNotFound, code)

	page, err := s.st.ListAudit(context.Background(), store.AuditFilter{ObjectKind: "member_feed"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, audit.KindMember, page.Items[0].Actor.Kind)
	require.Equal(t, "n1", page.Items[0].Actor.ID)
	require.Equal(t, audit.Update, page.Items[0].Action)
	require.NotContains(t, string(page.Items[0].After), "swcf_")
}

// TestSiteNavigationAndLanguages: every page of the site renders in each
// language without a missing key, with the site's navigation.
func TestSiteNavigationAndLanguages(t *testing.T) {
	s := newSite(t, nil)
	for _, lang := range []string{"fr-BE", "nl-BE", "en"} {
		for _, p := range []string{"/my/", "/my/find", "/my/find?date=" + ymd(tuesday()), "/my/centers/c1/week", "/my/hours", "/my/denials", "/my/calendar",
			"/my/book?center=c1&room=r1"} {
			r := s.get(p, lang)
			require.Equal(t, 200, r.code, "%s %s: %s", lang, p, r.body)
			noMissingKeys(t, r.body)
			require.Contains(t, r.body, `href="/my/find"`)
			require.Contains(t, r.header.Get("Content-Language"), lang[:2])
		}
	}
}
