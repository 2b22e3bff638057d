package decide

import (
	"testing"
	"time"
	_ "time/tzdata" // Europe/Brussels on any test machine

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

func brussels(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	return loc
}

func booking(from, to time.Time, room string) protocol.Grant {
	return protocol.Grant{Kind: protocol.GrantBooking, From: from.Unix(), To: to.Unix(), Room: room}
}

func pass(from, to time.Time) protocol.Grant {
	return protocol.Grant{Kind: protocol.GrantPass, From: from.Unix(), To: to.Unix()}
}

func entry(grants ...protocol.Grant) *protocol.Entry {
	return &protocol.Entry{UID: "04A1B2C3", Member: "m-1", Grants: grants}
}

func secure(e *protocol.Entry) *protocol.Entry {
	e.Card = protocol.CardNTAG424DNA
	e.Keys = []protocol.DoorKey{{Version: 1, Key: protocol.CardKey{1, 2, 3}}}
	return e
}

func revoke(e *protocol.Entry) *protocol.Entry { e.Revoked = true; return e }

func TestDecideRules(t *testing.T) {
	loc := brussels(t)
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, loc)
	wl := Whitelist{Version: 7, Issued: now.Add(-time.Hour), Center: "c-1"}
	roomWL := wl
	roomWL.Room = "r-blue"
	staleWL := wl
	secureWL := wl
	secureWL.RequireSecure = true
	staleWL.Issued = now.Add(-DefaultMaxWhitelistAge - time.Second)
	staff := protocol.Grant{Kind: protocol.GrantStaff}
	h := time.Hour

	tests := []struct {
		name    string
		in      Input
		policy  func(*Policy)
		want    protocol.Reason
		comment string
	}{
		{name: "repeat within debounce", in: Input{Now: now, ClockTrusted: true, Repeat: true, Whitelist: wl, Badge: entry(staff)}, want: protocol.DeniedDebounce},
		{name: "no whitelist", in: Input{Now: now, ClockTrusted: true, Badge: entry(staff)}, want: protocol.DeniedNoWhitelist},
		{name: "unknown badge", in: Input{Now: now, ClockTrusted: true, Whitelist: wl}, want: protocol.DeniedUnknownBadge},
		{name: "revoked staff", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: &protocol.Entry{UID: "04A1B2C3", Member: "m", Revoked: true, Grants: []protocol.Grant{staff}}}, want: protocol.DeniedRevoked},
		{name: "staff unbounded", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(staff)}, want: protocol.GrantedStaff},
		{name: "staff ended", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(protocol.Grant{Kind: protocol.GrantStaff, To: now.Unix()})}, want: protocol.DeniedOutsideWindow},
		{name: "staff not yet", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(protocol.Grant{Kind: protocol.GrantStaff, From: now.Add(time.Second).Unix()})}, want: protocol.DeniedOutsideWindow},
		{name: "staff on stale whitelist", in: Input{Now: now, ClockTrusted: true, Whitelist: staleWL, Badge: entry(staff)}, want: protocol.GrantedStaff},
		{name: "staff on untrusted clock", in: Input{Now: now, Whitelist: wl, Badge: entry(staff)}, want: protocol.GrantedStaff},
		{name: "staff on untrusted clock, deny_all", in: Input{Now: now, Whitelist: wl, Badge: entry(staff)}, policy: func(p *Policy) { p.UntrustedClock = DenyAll }, want: protocol.DeniedClockUntrusted},
		{name: "staff at a meeting room", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(staff)}, want: protocol.GrantedStaff},
		{name: "booking open", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, want: protocol.GrantedBooking},
		{name: "booking within grace", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(DefaultGrace), now.Add(h), ""))}, want: protocol.GrantedBooking},
		{name: "booking one second before grace", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(DefaultGrace+time.Second), now.Add(h), ""))}, want: protocol.DeniedOutsideWindow},
		{name: "booking with zero grace", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(time.Second), now.Add(h), ""))}, policy: func(p *Policy) { p.Grace = 0 }, want: protocol.DeniedOutsideWindow},
		{name: "booking ends exactly now", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(-h), now, ""))}, want: protocol.DeniedOutsideWindow},
		{name: "booking of a room opens the entrance", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(-h), now.Add(h), "r-red"))}, want: protocol.GrantedBooking},
		{name: "booking on untrusted clock", in: Input{Now: now, Whitelist: wl, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, want: protocol.DeniedClockUntrusted},
		{name: "booking on untrusted clock, allow_all", in: Input{Now: now, Whitelist: wl, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, policy: func(p *Policy) { p.UntrustedClock = AllowAll }, want: protocol.GrantedBooking},
		{name: "booking on stale whitelist", in: Input{Now: now, ClockTrusted: true, Whitelist: staleWL, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, want: protocol.DeniedStaleWhitelist},
		{name: "whitelist exactly max age", in: Input{Now: now, ClockTrusted: true, Whitelist: Whitelist{Version: 1, Issued: now.Add(-DefaultMaxWhitelistAge)}, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, want: protocol.GrantedBooking},
		{name: "untrusted and stale says clock", in: Input{Now: now, Whitelist: staleWL, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, want: protocol.DeniedClockUntrusted},
		{name: "pass valid", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(pass(now.Add(-h), now.Add(h)))}, want: protocol.GrantedPass},
		{name: "pass open-ended", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(protocol.Grant{Kind: protocol.GrantPass})}, want: protocol.GrantedPass},
		{name: "pass has no grace", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(pass(now.Add(time.Minute), now.Add(h)))}, want: protocol.DeniedOutsideWindow},
		{name: "pass expired", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(pass(now.Add(-2*h), now.Add(-h)))}, want: protocol.DeniedOutsideWindow},
		{name: "pass before booking when both open", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(pass(now.Add(-h), now.Add(h)), booking(now.Add(-h), now.Add(h), ""))}, want: protocol.GrantedPass},
		{name: "second booking open", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry(booking(now.Add(-5*h), now.Add(-4*h), ""), booking(now.Add(-h), now.Add(h), ""))}, want: protocol.GrantedBooking},
		{name: "no rights", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: entry()}, want: protocol.DeniedNoBooking},
		{name: "secure badge authenticated", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: secure(entry(staff)), Auth: AuthOK}, want: protocol.GrantedStaff},
		{name: "secure badge failed", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: secure(entry(staff)), Auth: AuthFailed}, want: protocol.DeniedAuthFailed},
		{name: "secure badge not authenticated", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: secure(entry(staff))}, want: protocol.DeniedAuthFailed},
		{name: "clone of a revoked secure badge", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: revoke(secure(entry(staff))), Auth: AuthFailed}, want: protocol.DeniedAuthFailed},
		{name: "revoked secure badge", in: Input{Now: now, ClockTrusted: true, Whitelist: wl, Badge: revoke(secure(entry(staff))), Auth: AuthOK}, want: protocol.DeniedRevoked},
		{name: "debounce before authentication", in: Input{Now: now, ClockTrusted: true, Repeat: true, Whitelist: wl, Badge: secure(entry(staff))}, want: protocol.DeniedDebounce},
		{name: "uid-only staff where secure is required", in: Input{Now: now, ClockTrusted: true, Whitelist: secureWL, Badge: entry(staff)}, want: protocol.DeniedNotSecure},
		{name: "uid-only pass where secure is required", in: Input{Now: now, ClockTrusted: true, Whitelist: secureWL, Badge: entry(pass(now.Add(-h), now.Add(h)))}, want: protocol.DeniedNotSecure},
		{name: "revoked uid-only where secure is required", in: Input{Now: now, ClockTrusted: true, Whitelist: secureWL, Badge: revoke(entry(staff))}, want: protocol.DeniedRevoked},
		{name: "secure pass where secure is required", in: Input{Now: now, ClockTrusted: true, Whitelist: secureWL, Badge: secure(entry(pass(now.Add(-h), now.Add(h)))), Auth: AuthOK}, want: protocol.GrantedPass},
		{name: "room: booking of this room", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(booking(now.Add(-h), now.Add(h), "r-blue"))}, want: protocol.GrantedBooking},
		{name: "room: booking of another room", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(booking(now.Add(-h), now.Add(h), "r-red"))}, want: protocol.DeniedWrongRoom},
		{name: "room: desk booking elsewhere at the center", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(booking(now.Add(-h), now.Add(h), ""))}, want: protocol.DeniedWrongRoom},
		{name: "room: this room later, other room now", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(booking(now.Add(-h), now.Add(h), "r-red"), booking(now.Add(3*h), now.Add(4*h), "r-blue"))}, want: protocol.DeniedOutsideWindow},
		{name: "room: this room later, open in grace", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(booking(now.Add(10*time.Minute), now.Add(h), "r-blue"))}, want: protocol.GrantedBooking},
		{name: "room: a pass does not open it", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(pass(now.Add(-h), now.Add(h)))}, want: protocol.DeniedNoBooking},
		{name: "room: pass and other-room booking", in: Input{Now: now, ClockTrusted: true, Whitelist: roomWL, Badge: entry(pass(now.Add(-h), now.Add(h)), booking(now.Add(-h), now.Add(h), "r-red"))}, want: protocol.DeniedWrongRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			require.NoError(t, p.Validate())
			assert.Equal(t, tt.want, p.Decide(tt.in))
		})
	}
}

// TestDecideCalendarEdges walks taps across midnight and the two
// daylight-saving changes of Europe/Brussels in 2026 (29 March: 02:00 CET
// becomes 03:00 CEST; 25 October: 03:00 CEST becomes 02:00 CET).
func TestDecideCalendarEdges(t *testing.T) {
	loc := brussels(t)
	at := func(y int, mo time.Month, d, h, mi, s int) time.Time { return time.Date(y, mo, d, h, mi, s, 0, loc) }
	utc := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, time.UTC) }
	wl := Whitelist{Version: 1, Center: "c-1"}

	// A booking over midnight, 23:00 to 01:00.
	overMidnight := booking(at(2026, 5, 12, 23, 0, 0), at(2026, 5, 13, 1, 0, 0), "")
	// A day pass for one local calendar day, [00:00, next 00:00).
	dayPass := pass(at(2026, 5, 12, 0, 0, 0), at(2026, 5, 13, 0, 0, 0))
	// The spring-forward day is 23 hours long.
	springDay := pass(at(2026, 3, 29, 0, 0, 0), at(2026, 3, 30, 0, 0, 0))
	// A booking from 01:30 CET to 03:30 CEST lasts one hour of real time.
	springBooking := booking(at(2026, 3, 29, 1, 30, 0), at(2026, 3, 29, 3, 30, 0), "")
	// Autumn: a booking from 02:30 CEST (00:30 UTC) to 02:30 CET (01:30 UTC),
	// two hours of wall clock but two hours in real time too, through the
	// repeated hour. Local 02:xx is ambiguous, so times are given in UTC.
	autumnBooking := protocol.Grant{Kind: protocol.GrantBooking, From: utc(10, 25, 0, 30).Unix(), To: utc(10, 25, 1, 30).Unix()}
	// The fall-back day is 25 hours long.
	autumnDay := pass(at(2026, 10, 25, 0, 0, 0), at(2026, 10, 26, 0, 0, 0))

	tests := []struct {
		name  string
		grant protocol.Grant
		now   time.Time
		want  protocol.Reason
	}{
		{"midnight booking, grace before 23:00", overMidnight, at(2026, 5, 12, 22, 45, 0), protocol.GrantedBooking},
		{"midnight booking, just before grace", overMidnight, at(2026, 5, 12, 22, 44, 59), protocol.DeniedOutsideWindow},
		{"midnight booking, 23:59:59", overMidnight, at(2026, 5, 12, 23, 59, 59), protocol.GrantedBooking},
		{"midnight booking, 00:00:00 next day", overMidnight, at(2026, 5, 13, 0, 0, 0), protocol.GrantedBooking},
		{"midnight booking, 00:59:59", overMidnight, at(2026, 5, 13, 0, 59, 59), protocol.GrantedBooking},
		{"midnight booking, 01:00 ends", overMidnight, at(2026, 5, 13, 1, 0, 0), protocol.DeniedOutsideWindow},
		{"day pass at 00:00:00", dayPass, at(2026, 5, 12, 0, 0, 0), protocol.GrantedPass},
		{"day pass at 23:59:59", dayPass, at(2026, 5, 12, 23, 59, 59), protocol.GrantedPass},
		{"day pass at next midnight", dayPass, at(2026, 5, 13, 0, 0, 0), protocol.DeniedOutsideWindow},
		{"day pass the evening before", dayPass, at(2026, 5, 11, 23, 59, 59), protocol.DeniedOutsideWindow},
		{"spring day pass at 01:59:59 CET", springDay, at(2026, 3, 29, 1, 59, 59), protocol.GrantedPass},
		{"spring day pass at 03:00 CEST", springDay, at(2026, 3, 29, 3, 0, 0), protocol.GrantedPass},
		{"spring day pass at 23:59:59", springDay, at(2026, 3, 29, 23, 59, 59), protocol.GrantedPass},
		{"spring day pass at next midnight", springDay, at(2026, 3, 30, 0, 0, 0), protocol.DeniedOutsideWindow},
		{"spring booking in grace, 01:15 CET", springBooking, at(2026, 3, 29, 1, 15, 0), protocol.GrantedBooking},
		{"spring booking, 01:14:59 CET", springBooking, at(2026, 3, 29, 1, 14, 59), protocol.DeniedOutsideWindow},
		{"spring booking, 03:00 CEST is 30 min in", springBooking, at(2026, 3, 29, 3, 0, 0), protocol.GrantedBooking},
		{"spring booking, 03:29:59 CEST", springBooking, at(2026, 3, 29, 3, 29, 59), protocol.GrantedBooking},
		{"spring booking, 03:30 CEST ends", springBooking, at(2026, 3, 29, 3, 30, 0), protocol.DeniedOutsideWindow},
		{"autumn booking, grace at 02:15 CEST", autumnBooking, utc(10, 25, 0, 15), protocol.GrantedBooking},
		{"autumn booking, 02:59 CEST", autumnBooking, utc(10, 25, 0, 59), protocol.GrantedBooking},
		{"autumn booking, second 02:00 (CET)", autumnBooking, utc(10, 25, 1, 0), protocol.GrantedBooking},
		{"autumn booking, 02:29 CET", autumnBooking, utc(10, 25, 1, 29), protocol.GrantedBooking},
		{"autumn booking, 02:30 CET ends", autumnBooking, utc(10, 25, 1, 30), protocol.DeniedOutsideWindow},
		{"autumn booking, 02:14 CEST before grace", autumnBooking, utc(10, 25, 0, 14), protocol.DeniedOutsideWindow},
		{"autumn day pass at 23:59:59", autumnDay, at(2026, 10, 25, 23, 59, 59), protocol.GrantedPass},
		{"autumn day pass, second 02:30", autumnDay, utc(10, 25, 1, 30), protocol.GrantedPass},
		{"autumn day pass at next midnight", autumnDay, at(2026, 10, 26, 0, 0, 0), protocol.DeniedOutsideWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Now: tt.now, ClockTrusted: true, Whitelist: wl, Badge: entry(tt.grant)}
			in.Whitelist.Issued = tt.now.Add(-time.Hour)
			assert.Equal(t, tt.want, DefaultPolicy().Decide(in), "at %s", tt.now.In(loc).Format("2006-01-02 15:04:05 MST"))
		})
	}
	// The spring-forward day really is 23 hours and the fall-back day 25.
	assert.Equal(t, int64(23*3600), springDay.To-springDay.From)
	assert.Equal(t, int64(25*3600), autumnDay.To-autumnDay.From)
	assert.Equal(t, int64(3600), springBooking.To-springBooking.From)
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Policy)
		wantErr string
	}{
		{"defaults", func(*Policy) {}, ""},
		{"negative grace", func(p *Policy) { p.Grace = -time.Second }, "policy.grace"},
		{"zero max age", func(p *Policy) { p.MaxWhitelistAge = 0 }, "policy.max_whitelist_age"},
		{"long debounce", func(p *Policy) { p.Debounce = time.Hour }, "policy.debounce"},
		{"unknown clock policy", func(p *Policy) { p.UntrustedClock = "maybe" }, "policy.untrusted_clock = \"maybe\": want one of [staff_only allow_all deny_all]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := DefaultPolicy()
			tt.mutate(&p)
			err := p.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDebouncer(t *testing.T) {
	t0 := time.Now()
	type step struct {
		uid    protocol.UID
		at     time.Duration
		repeat bool
	}
	tests := []struct {
		name   string
		window time.Duration
		steps  []step
	}{
		{"second tap within window", 2 * time.Second, []step{{"04A1B2C3", 0, false}, {"04A1B2C3", 1999 * time.Millisecond, true}}},
		{"second tap at window", 2 * time.Second, []step{{"04A1B2C3", 0, false}, {"04A1B2C3", 2 * time.Second, false}}},
		{"other badges independent", 2 * time.Second, []step{{"04A1B2C3", 0, false}, {"04D4E5F6", 100 * time.Millisecond, false}, {"04A1B2C3", 200 * time.Millisecond, true}}},
		{"repeats do not extend the window", 2 * time.Second, []step{{"04A1B2C3", 0, false}, {"04A1B2C3", 1500 * time.Millisecond, true}, {"04A1B2C3", 2100 * time.Millisecond, false}, {"04A1B2C3", 2200 * time.Millisecond, true}}},
		{"disabled", 0, []step{{"04A1B2C3", 0, false}, {"04A1B2C3", time.Millisecond, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDebouncer(tt.window)
			for i, s := range tt.steps {
				assert.Equal(t, s.repeat, d.Repeat(s.uid, t0.Add(s.at)), "step %d", i)
			}
		})
	}
}

func TestDebouncerForgetsOldBadges(t *testing.T) {
	d := NewDebouncer(2 * time.Second)
	t0 := time.Now()
	for i := 0; i < 1000; i++ {
		d.Repeat(protocol.UIDFromBytes([]byte{4, byte(i >> 8), byte(i), 1}), t0)
	}
	assert.Equal(t, 1000, d.Len())
	assert.False(t, d.Repeat("04FFFFFF", t0.Add(3*time.Second)))
	assert.Equal(t, 1, d.Len(), "badges older than the window are pruned")
}

// BenchmarkPolicyDecide is the rules alone on a badge with a few grants
// (the whitelist lookup is measured by the store's BenchmarkDecide).
func BenchmarkPolicyDecide(b *testing.B) {
	now := time.Date(2026, 5, 12, 10, 0, 0, 0, time.UTC)
	e := entry(
		booking(now.Add(-48*time.Hour), now.Add(-47*time.Hour), ""),
		booking(now.Add(2*time.Hour), now.Add(3*time.Hour), "r-1"),
		pass(now.Add(-time.Hour), now.Add(time.Hour)),
	)
	in := Input{Now: now, ClockTrusted: true, Whitelist: Whitelist{Version: 3, Issued: now.Add(-time.Hour)}, Badge: e}
	p := DefaultPolicy()
	for b.Loop() {
		if p.Decide(in) != protocol.GrantedPass {
			b.Fatal("wrong decision")
		}
	}
}
