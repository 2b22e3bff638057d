package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// consoleNetwork is startNetwork with a room r2 and a booking b2 at
// Leuven (c2), a pass of n1, and a booking tomorrow's date in Gent's zone.
func consoleNetwork(t *testing.T) (*network, string) {
	t.Helper()
	n := startNetwork(t)
	n.api("POST", "/rooms", map[string]any{"id": "r2", "center_id": "c2", "name": "Leuven room", "capacity": 6})
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	tomorrow := time.Now().In(loc).AddDate(0, 0, 1)
	day := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 0, 0, 0, 0, loc)
	n.api("POST", "/bookings", map[string]any{"id": "b2", "member_id": "m2", "center_id": "c2", "room_id": "r2",
		"start": day.Add(10 * time.Hour), "end": day.Add(11 * time.Hour), "status": "confirmed"})
	return n, day.Format(time.DateOnly)
}

// location is the path a redirect answer sends to.
func location(h http.Header) string { return h.Get("Location") }

// TestConsoleAuthorization walks the console's screens as each role: a
// manager of Gent reaching Leuven's objects gets the answer about missing
// ones (404), a center named in a form that is not theirs is refused
// (403, as in the API), a technician reaches only the badges (and sees
// only those they added), and admin reaches everything.
func TestConsoleAuthorization(t *testing.T) {
	n, day := consoleNetwork(t)
	since := strconv.FormatInt(time.Now().UnixMilli(), 10)
	browsers := map[string]*browser{}
	for _, who := range []string{"admin", "mgr1", "tech1"} {
		browsers[who] = n.login(who)
	}
	type row struct {
		who, method, path string
		form              url.Values
		want              int
		has, hasNot       string // texts the answer must (not) contain
	}
	rows := []row{
		{"admin", "GET", "/members/new", nil, 200, `name="home_center_id"`, ""},
		{"mgr1", "GET", "/members/new", nil, 200, `value="c1"`, `value="c2"`},
		{"tech1", "GET", "/members/new", nil, 403, "", ""},
		{"mgr1", "GET", "/members/m1/edit", nil, 200, "Ann Gent", ""},
		{"mgr1", "GET", "/members/m2/edit", nil, 404, "not found: member m2", "Bert"},
		{"admin", "GET", "/members/m2/edit", nil, 200, "Bert Leuven", ""},
		{"mgr1", "POST", "/members/m2/edit", url.Values{"name": {"X"}, "home_center_id": {"c1"}}, 404, "", ""},
		{"mgr1", "POST", "/members/m2/status", url.Values{"status": {"suspended"}}, 404, "", ""},
		{"mgr1", "POST", "/members/new", url.Values{"id": {"m9"}, "name": {"X"}, "home_center_id": {"c2"}}, 403, "", ""},
		{"mgr1", "POST", "/members/m1/edit", url.Values{"name": {"Ann"}, "home_center_id": {"c2"}}, 403, "", ""},
		{"mgr1", "POST", "/members/m1/passes", url.Values{"valid_from": {day}, "valid_until": {day}}, 403, "", ""},
		{"tech1", "GET", "/members.csv", nil, 403, "", ""},
		{"mgr1", "GET", "/members.csv", nil, 200, "m1,Ann Gent", "m2"},
		{"admin", "GET", "/members.csv", nil, 200, "m2,Bert Leuven", ""},
		{"mgr1", "GET", "/badges", nil, 200, "04D1D2D3", "04E1E2E3"},
		{"tech1", "GET", "/badges", nil, 200, "", "04D1D2D3"},
		{"admin", "GET", "/badges.csv", nil, 200, "04E1E2E3,m2,false", ""},
		{"mgr1", "GET", "/badges.csv", nil, 200, "04D1D2D3,m1,false", "04E1E2E3"},
		{"mgr1", "POST", "/badges/04E1E2E3/revoke", url.Values{}, 404, "not found: badge 04E1E2E3", ""},
		{"tech1", "POST", "/badges/04D1D2D3/revoke", url.Values{}, 404, "not found: badge 04D1D2D3", ""},
		{"mgr1", "POST", "/badges/04E1E2E3/move", url.Values{"member": {"m1"}}, 404, "", ""},
		{"mgr1", "GET", "/badges/learn?door=d2&since=" + since, nil, 404, "not found: door d2", "Leuven front"},
		{"mgr1", "POST", "/badges/learn", url.Values{"door": {"d2"}}, 404, "", ""},
		{"tech1", "GET", "/badges/learn", nil, 200, "Gent front", "Leuven front"},
		{"mgr1", "GET", "/badges/learn?door=d1&since=1", nil, 400, "start learn mode again", ""},
		{"mgr1", "GET", "/badges/learn?door=d1&since=x", nil, 400, "start learn mode again", ""},
		{"admin", "GET", "/badges/learn", nil, 200, "Leuven front", ""},
		{"mgr1", "GET", "/bookings?center=c2&day=" + day, nil, 404, "not found: center c2", ""},
		{"mgr1", "GET", "/bookings?center=c1&room=r2", nil, 404, "not found: room r2", ""},
		{"admin", "GET", "/bookings?center=c2&day=" + day, nil, 200, "Bert Leuven", ""},
		{"tech1", "GET", "/bookings", nil, 403, "", ""},
		{"mgr1", "POST", "/bookings/b2/cancel", url.Values{}, 404, "not found: booking b2", ""},
		{"mgr1", "POST", "/bookings", url.Values{"center": {"c2"}, "member": {"m2"}, "day": {day}, "from": {"09:00"}, "to": {"10:00"}}, 404, "", ""},
		{"mgr1", "GET", "/presence?center=c2", nil, 404, "", ""},
		{"mgr1", "GET", "/presence/events.csv?center=c2", nil, 404, "", ""},
		{"tech1", "GET", "/presence/events.csv", nil, 403, "", ""},
		{"tech1", "GET", "/presence", nil, 403, "", ""},
		{"mgr1", "GET", "/presence", nil, 200, "Gent", ""},
		{"mgr1", "GET", "/staff", nil, 200, "", ""},
		{"tech1", "GET", "/staff", nil, 403, "", ""},
		{"mgr1", "POST", "/staff", url.Values{"member": {"m2"}, "center": {"c2"}}, 403, "", ""},
		{"mgr1", "POST", "/staff/remove", url.Values{"member": {"m2"}, "center": {""}}, 403, "", ""},
		{"mgr1", "GET", "/places?center=c2", nil, 404, "", "Leuven room"},
		{"mgr1", "POST", "/places/desks", url.Values{"center": {"c2"}, "capacity": {"3"}}, 404, "", ""},
		{"mgr1", "POST", "/places/rooms", url.Values{"center": {"c1"}, "id": {"r2"}, "name": {"Mine"}}, 404, "", ""},
		{"mgr1", "POST", "/places/rules", url.Values{"center": {"c2"}}, 404, "", ""},
		{"tech1", "GET", "/places", nil, 403, "", ""},
		{"admin", "GET", "/places?center=c2", nil, 200, "Leuven room", ""},
	}
	for _, r := range rows {
		t.Run(r.who+" "+r.method+" "+r.path, func(t *testing.T) {
			b := browsers[r.who]
			var code int
			var body string
			if r.method == "GET" {
				code, body = b.get(r.path)
			} else {
				form := url.Values{"csrf": {b.csrf}}
				for k, v := range r.form {
					form[k] = v
				}
				code, body, _ = b.post(r.path, form)
			}
			assert.Equal(t, r.want, code, body)
			if r.has != "" {
				assert.Contains(t, body, r.has)
			}
			if r.hasNot != "" {
				assert.NotContains(t, body, r.hasNot)
			}
		})
	}
	// A technician assigns a badge to a member of Gent without staff
	// rights, then sees it (and only it) in their list; staff of Gent is
	// the manager's to enroll, as in the API.
	tech := browsers["tech1"]
	code, _, hdr := tech.post("/badges", url.Values{"csrf": {tech.csrf}, "uid": {"04AB0001"}, "member": {"m1"}})
	require.Equal(t, http.StatusSeeOther, code)
	assert.Equal(t, "/badges", location(hdr))
	_, body := tech.get("/badges")
	assert.Contains(t, body, "04AB0001")
	assert.NotContains(t, body, "04D1D2D3")
	n.api("POST", "/staff", map[string]any{"member_id": "m1", "center_id": "c1"})
	code, _, hdr = tech.post("/badges", url.Values{"csrf": {tech.csrf}, "uid": {"04AB0002"}, "member": {"m1"}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = tech.get(location(hdr))
	assert.Contains(t, body, "a technician enrolls badges of members without staff rights only")
	_, err := n.srv.Store.Badge(context.Background(), "04AB0002")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// Nothing of Leuven changed.
	m2, err := n.srv.Store.Member(context.Background(), "m2")
	require.NoError(t, err)
	assert.Equal(t, domain.MemberActive, m2.Status)
	assert.Equal(t, "Bert Leuven", m2.Name)
	b2, err := n.srv.Store.Booking(context.Background(), "b2")
	require.NoError(t, err)
	assert.Equal(t, domain.BookingConfirmed, b2.Status)
	bd, err := n.srv.Store.Badge(context.Background(), "04E1E2E3")
	require.NoError(t, err)
	assert.False(t, bd.Revoked)
	assert.Equal(t, "m2", bd.MemberID)
	_, err = n.srv.Store.Places().DeskPool(context.Background(), "c2")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// TestConsoleMemberLifecycle: a manager creates a member, edits them,
// gives them a badge in learn mode (the door reports the unknown badge),
// suspends them; each change is in the audit log with the manager as
// actor.
func TestConsoleMemberLifecycle(t *testing.T) {
	n := startNetwork(t)
	b := n.login("mgr1")
	ctx := context.Background()

	code, _, hdr := b.post("/members/new", url.Values{"csrf": {b.csrf}, "id": {"m7"}, "name": {"Greet Gent"}, "email": {"greet@example.org"}, "home_center_id": {"c1"}})
	require.Equal(t, http.StatusSeeOther, code)
	require.Equal(t, "/members/m7", location(hdr))
	code, body := b.get("/members/m7")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "Member Greet Gent created.")
	m, err := n.srv.Store.Member(ctx, "m7")
	require.NoError(t, err)
	assert.Equal(t, domain.Member{ID: "m7", Name: "Greet Gent", Email: "greet@example.org", HomeCenterID: "c1", Status: domain.MemberActive}, m)

	// A bad form is refused with the field named, and changes nothing.
	code, _, hdr = b.post("/members/m7/edit", url.Values{"csrf": {b.csrf}, "name": {""}, "home_center_id": {"c1"}})
	require.Equal(t, http.StatusSeeOther, code)
	_, body = b.get(location(hdr))
	assert.Contains(t, body, "Not done: name: required")
	code, _, _ = b.post("/members/m7/edit", url.Values{"csrf": {b.csrf}, "name": {"Greet Gentse"}, "email": {""}, "home_center_id": {"c1"}})
	require.Equal(t, http.StatusSeeOther, code)
	m, err = n.srv.Store.Member(ctx, "m7")
	require.NoError(t, err)
	assert.Equal(t, "Greet Gentse", m.Name)
	assert.Empty(t, m.Email)

	// The cooperative gives Greet a pass, so that a badge of hers opens
	// Gent's door.
	from := time.Now().AddDate(0, 0, -1).UTC().Truncate(time.Hour)
	n.api("POST", "/passes", map[string]any{"id": "p7", "member_id": "m7", "valid_from": from, "valid_until": from.AddDate(0, 1, 0)})

	// Learn mode: a tap of an unknown badge before the start is not
	// offered; the one after it is.
	d1 := n.doors["d1"]
	d1.events(t, protocol.Event{Seq: 1, TimeMs: time.Now().UnixMilli(), Trusted: true, Boot: "b", Kind: protocol.EventTap, UID: "04000001", Reason: protocol.DeniedUnknownBadge, WLVersion: 1})
	time.Sleep(5 * time.Millisecond) // the start must come after the first tap's receipt, to the millisecond
	code, _, hdr = b.post("/badges/learn", url.Values{"csrf": {b.csrf}, "door": {"d1"}, "member": {"m7"}})
	require.Equal(t, http.StatusSeeOther, code)
	learn := location(hdr)
	require.Contains(t, learn, "/badges/learn?")
	_, body = b.get(learn)
	assert.Contains(t, body, `id="learn-wait"`, "waiting: the earlier tap is not offered")
	assert.NotContains(t, body, "04000001")
	d1.events(t, protocol.Event{Seq: 2, TimeMs: time.Now().UnixMilli(), Trusted: true, Boot: "b", Kind: protocol.EventTap, UID: "04C0FFEE", Reason: protocol.DeniedUnknownBadge, WLVersion: 1})
	require.Eventually(t, func() bool {
		_, body = b.get(learn)
		return strings.Contains(body, `id="assign-form"`)
	}, 5*time.Second, 20*time.Millisecond)
	assert.Contains(t, body, `name="uid" value="04C0FFEE"`)
	assert.Contains(t, body, `value="m7"`)
	code, _, hdr = b.post("/badges", url.Values{"csrf": {b.csrf}, "uid": {"04C0FFEE"}, "member": {"m7"}})
	require.Equal(t, http.StatusSeeOther, code)
	assert.Equal(t, "/members/m7", location(hdr))
	badge, err := n.srv.Store.Badge(ctx, "04C0FFEE")
	require.NoError(t, err)
	assert.Equal(t, domain.Badge{UID: "04C0FFEE", MemberID: "m7", AddedBy: b.id}, badge)
	require.Eventually(t, func() bool { return opens(n, "d1", "04C0FFEE") }, 5*time.Second, 10*time.Millisecond,
		"the door's whitelist lets the new badge in")
	// Assigning a badge to Leuven's member is answered as a missing member.
	code, _, hdr = b.post("/badges", url.Values{"csrf": {b.csrf}, "uid": {"04C0FFEF"}, "member": {"m2"}, "retry": {learn}})
	require.Equal(t, http.StatusSeeOther, code)
	assert.Equal(t, learn, location(hdr), "back to the learn page")
	_, body = b.get(location(hdr))
	assert.Contains(t, body, "member m2 does not exist")
	_, err = n.srv.Store.Badge(ctx, "04C0FFEF")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// Suspend, then reinstate.
	code, _, _ = b.post("/members/m7/status", url.Values{"csrf": {b.csrf}, "status": {"suspended"}})
	require.Equal(t, http.StatusSeeOther, code)
	m, err = n.srv.Store.Member(ctx, "m7")
	require.NoError(t, err)
	assert.Equal(t, domain.MemberSuspended, m.Status)
	require.Eventually(t, func() bool { return !opens(n, "d1", "04C0FFEE") }, 5*time.Second, 10*time.Millisecond,
		"the door's whitelist no longer lets the suspended member in")
	_, body = b.get("/members/m7")
	assert.Contains(t, body, `id="member-reinstate"`)
	code, _, _ = b.post("/members/m7/status", url.Values{"csrf": {b.csrf}, "status": {"gone"}})
	require.Equal(t, http.StatusSeeOther, code)
	m, err = n.srv.Store.Member(ctx, "m7")
	require.NoError(t, err)
	assert.Equal(t, domain.MemberSuspended, m.Status, "a bad status changes nothing")

	// Revoke, and move to another member of Gent.
	code, _, _ = b.post("/badges/04C0FFEE/revoke", url.Values{"csrf": {b.csrf}})
	require.Equal(t, http.StatusSeeOther, code)
	badge, err = n.srv.Store.Badge(ctx, "04C0FFEE")
	require.NoError(t, err)
	assert.True(t, badge.Revoked)
	code, _, _ = b.post("/badges/04C0FFEE/move", url.Values{"csrf": {b.csrf}, "member": {"m1"}})
	require.Equal(t, http.StatusSeeOther, code)
	badge, err = n.srv.Store.Badge(ctx, "04C0FFEE")
	require.NoError(t, err)
	assert.Equal(t, domain.Badge{UID: "04C0FFEE", MemberID: "m1", AddedBy: b.id}, badge)

	// The audit log names the manager's staff account for every change.
	account := strings.TrimPrefix(b.id, store.StaffPrincipalPrefix)
	require.NotEqual(t, b.id, account, "the manager is signed in with a staff account")
	pg, err := n.srv.Store.ListAudit(ctx, store.AuditFilter{ActorID: account})
	require.NoError(t, err)
	var seen []string
	for _, e := range pg.Items {
		assert.Equal(t, audit.KindStaffAccount, e.Actor.Kind)
		seen = append(seen, string(e.Action)+" "+e.ObjectKind+" "+e.ObjectID)
	}
	assert.Subset(t, seen, []string{"create member m7", "update member m7", "create badge 04C0FFEE", "update badge 04C0FFEE"})
}

// opens reports whether the whitelist the central publishes to door
// grants the badge anything.
func opens(n *network, door string, uid protocol.UID) bool {
	es, _, err := n.srv.Whitelist().Entries(door)
	if err != nil {
		return false
	}
	for _, e := range es {
		if e.UID == uid {
			return !e.Revoked && len(e.Grants) > 0
		}
	}
	return false
}

// TestConsoleCSV: members', badges' and events' CSV have a header, the
// viewer's rows only, and a cell a spreadsheet would evaluate is quoted.
func TestConsoleCSV(t *testing.T) {
	n := startNetwork(t)
	n.api("POST", "/members", map[string]any{"id": "m8", "name": "=HYPERLINK(\"http://x\")", "home_center_id": "c1", "status": "active"})
	b := n.login("mgr1")
	code, body := b.get("/members.csv?q=hyper")
	require.Equal(t, 200, code)
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"id", "name", "email", "home_center_id", "status"}, {"m8", "'=HYPERLINK(\"http://x\")", "", "c1", "active"}}, rows)
	code, body = b.get("/badges.csv")
	require.Equal(t, 200, code)
	rows, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"uid", "member_id", "revoked", "added_by"}, rows[0])
	assert.Equal(t, []string{"04D1D2D3", "m1", "false"}, rows[1][:3], "Gent's badge only")
	assert.True(t, strings.HasPrefix(rows[1][3], "tok-"), "added by the admin's token")

	// Events: Gent's only, oldest first.
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	n.doors["d1"].events(t, tap(1, at, "04D1D2D3", "m1", protocol.GrantedPass), tap(2, at.Add(time.Minute), "04FFFFFF", "", protocol.DeniedUnknownBadge))
	n.doors["d2"].events(t, tap(1, at, "04E1E2E3", "m2", protocol.GrantedPass))
	code, body = b.get("/presence/events.csv")
	require.Equal(t, 200, code)
	rows, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3, body)
	assert.Equal(t, []string{"time", "door", "center", "kind", "reason", "uid", "member", "clock_trusted", "received", "seq"}, rows[0])
	assert.Equal(t, []string{at.UTC().Format(time.RFC3339Nano), "d1", "c1", "tap", "granted_pass", "04D1D2D3", "m1", "true"}, rows[1][:8])
	assert.Equal(t, []string{"d1", "denied_unknown_badge", "04FFFFFF", "", "2"}, []string{rows[2][1], rows[2][4], rows[2][5], rows[2][6], rows[2][9]})
	code, _ = b.get("/presence/events.csv?from=yesterday")
	assert.Equal(t, http.StatusBadRequest, code)
}

// TestConsoleBookingsPresenceStaffPlaces: a manager sets Gent's places and
// rules, books a desk for a member and cancels it from the calendar, sees
// who is in from the doors' taps, and makes a member staff.
func TestConsoleBookingsPresenceStaffPlaces(t *testing.T) {
	n := startNetwork(t)
	b := n.login("mgr1")
	ctx := context.Background()
	post := func(path string, form url.Values) string {
		t.Helper()
		form.Set("csrf", b.csrf)
		code, body, hdr := b.post(path, form)
		require.Equal(t, http.StatusSeeOther, code, body)
		_, body = b.get(location(hdr))
		return body
	}
	assert.Contains(t, post("/places/desks", url.Values{"center": {"c1"}, "desks": {"a1 Window\na2 Wall"}}), "Saved.")
	pool, err := n.srv.Store.Places().DeskPool(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, domain.DeskPool{CenterID: "c1", Capacity: 2, Desks: []domain.Desk{{ID: "a1", Name: "Window"}, {ID: "a2", Name: "Wall"}}}, pool)
	assert.Contains(t, post("/places/rooms", url.Values{"center": {"c1"}, "id": {"r1"}, "name": {"Gent room"}, "capacity": {"8"}, "equipment": {"screen, whiteboard"}}), "Gent room")
	room, err := n.srv.Store.Room(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, domain.Room{ID: "r1", CenterID: "c1", Name: "Gent room", Capacity: 8, Equipment: []string{"screen", "whiteboard"}}, room)
	body := post("/places/rules", url.Values{"center": {"c1"}, "max_advance_days": {"30"}, "min_minutes": {"60"}, "max_minutes": {"600"},
		"max_open_bookings": {"5"}, "cancel_deadline_minutes": {"0"}, "within_opening_hours": {"on"}})
	assert.Contains(t, body, "Saved.")
	rules, err := n.srv.Store.Places().BookingRules(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, domain.BookingRules{MaxAdvanceDays: 30, MinMinutes: 60, MaxMinutes: 600, MaxOpenBookings: 5, WithinOpeningHours: true}, rules)
	assert.Contains(t, post("/places/rules", url.Values{"center": {"c1"}, "max_advance_days": {"x"}}), "Not done: max_advance_days")

	// A booking for Ann tomorrow, shown in the week and cancelled from it.
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	day := time.Now().In(loc).AddDate(0, 0, 1).Format(time.DateOnly)
	body = post("/bookings", url.Values{"center": {"c1"}, "member": {"m1"}, "day": {day}, "from": {"09:00"}, "to": {"12:00"}, "back": {"/bookings?day=" + day}})
	assert.Contains(t, body, "Booked for m1.")
	assert.Contains(t, body, "Ann Gent")
	bs, err := n.srv.Store.ListBookings(ctx, store.BookingFilter{MemberID: "m1"})
	require.NoError(t, err)
	require.Len(t, bs.Items, 1)
	bk := bs.Items[0]
	assert.Equal(t, domain.BookingCreator{Role: domain.CreatorCenterStaff, CenterID: "c1", TokenID: b.id}, bk.CreatedBy)
	assert.Contains(t, body, `data-booking="`+bk.ID+`"`)
	// The rules apply: 30 minutes is under the center's minimum.
	assert.Contains(t, post("/bookings", url.Values{"center": {"c1"}, "member": {"m1"}, "day": {day}, "from": {"13:00"}, "to": {"13:30"}}), "Not done: This booking is shorter than the center allows.")
	_, dayBody := b.get("/bookings?view=day&day=" + day + "&room=r1")
	assert.NotContains(t, dayBody, `data-booking="`+bk.ID+`"`, "a desk booking is not in the room's calendar")
	assert.Contains(t, post("/bookings/"+bk.ID+"/cancel", url.Values{}), "Booking of m1 cancelled.")
	bk, err = n.srv.Store.Booking(ctx, bk.ID)
	require.NoError(t, err)
	assert.Equal(t, domain.BookingCancelled, bk.Status)

	// Who is in: Ann entered 10 minutes ago; Nora entered and left by the
	// exit reader; Bert entered Leuven.
	n.api("POST", "/doors", map[string]any{"id": "d1x", "center_id": "c1", "name": "Gent exit", "exit": true})
	var sec struct{ Secret string }
	require.NoError(t, json.Unmarshal(n.api("POST", "/doors/d1x/secret", nil), &sec))
	exit := connectDoor(t, n.srv, "d1x", sec.Secret)
	ago := todaysMinutes(t, loc, 10)
	n.doors["d1"].events(t, tap(1, ago(10), "04D1D2D3", "m1", protocol.GrantedPass),
		tap(2, ago(8), "04A1B2C3", "n1", protocol.GrantedPass))
	exit.events(t, tap(1, ago(2), "04A1B2C3", "n1", protocol.GrantedPass))
	n.doors["d2"].events(t, tap(1, ago(5), "04E1E2E3", "m2", protocol.GrantedPass))
	_, body = b.get("/presence")
	assert.Contains(t, body, "Ann Gent")
	assert.NotContains(t, body, "Nora Nomad")
	assert.NotContains(t, body, "Bert Leuven")
	_, body = b.get("/presence?q=nobody")
	assert.Contains(t, body, `id="nobody"`)

	// Staff.
	assert.Contains(t, post("/staff", url.Values{"member": {"m1"}, "center": {"c1"}}), "m1 is staff now.")
	st, err := n.srv.Store.ListStaff(ctx, store.StaffFilter{MemberID: "m1"})
	require.NoError(t, err)
	assert.Equal(t, []domain.Staff{{MemberID: "m1", CenterID: "c1"}}, st.Items)
	_, body = b.get("/staff")
	assert.Contains(t, body, "Ann Gent")
	assert.Contains(t, post("/staff/remove", url.Values{"member": {"m1"}, "center": {"c1"}}), "m1 is no longer staff there.")
	st, err = n.srv.Store.ListStaff(ctx, store.StaffFilter{MemberID: "m1"})
	require.NoError(t, err)
	assert.Empty(t, st.Items)
}

// todaysMinutes returns a clock of the last span minutes that stays within
// today in loc: ago(k) is k minutes ago, or, when the day is younger than
// span minutes (a test run just after midnight), the same fraction of the
// time since midnight ago, so that "today's" taps stay today's and keep
// their order. In the last 30 s of a day it waits for the next one.
func todaysMinutes(t *testing.T, loc *time.Location, span int) func(k int) time.Time {
	t.Helper()
	now := time.Now().In(loc)
	if end := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc); end.Sub(now) < 30*time.Second {
		time.Sleep(end.Sub(now)) // the test's pages would be read tomorrow
		now = time.Now().In(loc)
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if since := now.Sub(midnight); since < time.Second {
		time.Sleep(time.Second - since) // too young a day for distinct milliseconds
		now = time.Now().In(loc)
	}
	unit := time.Minute
	if whole := time.Duration(span) * time.Minute; now.Sub(midnight) <= whole {
		unit = now.Sub(midnight) / time.Duration(span+1)
	}
	return func(k int) time.Time { return now.Add(-time.Duration(k) * unit) }
}

// TestHeaderSaysHowStaffSignedIn: the header's name carries, as its title,
// how the person signed in: their staff account's e-mail address, or the
// API token of a break-glass sign-in.
func TestHeaderSaysHowStaffSignedIn(t *testing.T) {
	n := startNetwork(t)
	for _, who := range []string{"admin", "mgr1", "tech1"} {
		b := n.login(who)
		want := `title="API token ` + b.id + `"`
		if id, ok := strings.CutPrefix(b.id, store.StaffPrincipalPrefix); ok {
			a, err := n.srv.Store.StaffAccounts().Account(context.Background(), id)
			require.NoError(t, err)
			want = `title="Staff account ` + a.Email + `"`
		}
		_, body := b.get("/")
		assert.Contains(t, body, `<span id="who" `+want+`>`, who)
		assert.Contains(t, body, `action="/logout"`, who)
		assert.NotContains(t, body, `action="/my/signout"`, who)
	}
}
