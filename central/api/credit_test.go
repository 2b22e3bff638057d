package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/api/apitest"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/posting"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// march is the crediting scenario of the fixture, March 2026 (Brussels):
//
//	n1 (nomadic): booked and attended at c1 on the 3rd (2 h) and at c2 on
//	              the 6th (1 h);
//	m2 (home c2): booked and attended at c1 on the 4th (1 h, cross-center);
//	m1 (home c1): booked and attended at c2 on the 5th (1 h, cross-center);
//	x2 (home c2): booked and attended at c2 on the 9th (home, not credited).
//
// The fixture's bookings k1 (m1 at c1) and k2 (m2 at c2) on the 2nd are
// no-shows, recorded at home.
//
// Door d1 is c1's, d2 is c2's. The crediting's clock says 10 April.
func march(t *testing.T, f *fixture) *posting.Service {
	t.Helper()
	ctx := context.Background()
	must := func(err error) { t.Helper(); require.NoError(t, err) }
	must(f.st.CreateMember(ctx, domain.Member{ID: "x2", Name: "stay-at-home", HomeCenterID: "c2", Status: domain.MemberActive}))
	// Bookings are credited within opening hours: the centers open every
	// day, 07:00 to 20:00.
	for _, id := range []string{"c1", "c2"} {
		c, err := f.st.Center(ctx, id)
		must(err)
		for d := range c.Hours {
			c.Hours[d] = []domain.Span{{Open: 7 * 60, Close: 20 * 60}}
		}
		must(f.st.UpdateCenter(ctx, c))
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	type visit struct {
		booking, member, center, door string
		start                         string
		hours                         int
	}
	visits := []visit{
		{"vb1", "n1", "c1", "d1", "2026-03-03T09:00:00Z", 2},
		{"vb2", "m2", "c1", "d1", "2026-03-04T09:00:00Z", 1},
		{"vb3", "m1", "c2", "d2", "2026-03-05T13:00:00Z", 1},
		{"vb4", "n1", "c2", "d2", "2026-03-06T13:00:00Z", 1},
		{"vb5", "x2", "c2", "d2", "2026-03-09T13:00:00Z", 1},
	}
	seq := map[string]uint64{"d1": 1, "d2": 1} // the fixture stored seq 1 of each
	var batches []ingest.Batch
	for _, v := range visits {
		start := utc(v.start)
		must(f.st.CreateBooking(ctx, domain.Booking{ID: v.booking, MemberID: v.member, CenterID: v.center,
			Start: start, End: start.Add(time.Duration(v.hours) * time.Hour), Status: domain.BookingConfirmed}))
		seq[v.door]++
		batches = append(batches, ingest.Batch{Door: v.door, Events: []protocol.Event{{Seq: seq[v.door],
			TimeMs: start.Add(5 * time.Minute).UnixMilli(), Trusted: true, Boot: "b", Kind: protocol.EventTap,
			UID: "11111111", Member: v.member, Reason: protocol.GrantedBooking}}})
	}
	rules, err := credit.DefaultConfig(1000)
	require.NoError(t, err)
	svc, err := posting.New(posting.Config{Rules: rules, Store: f.st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return utc("2026-04-10T10:00:00Z") }, Every: time.Millisecond, Debounce: time.Millisecond})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
	received := utc("2026-03-10T12:00:00Z").UnixMilli()
	for _, b := range batches {
		_, err := f.st.AppendBatches(ctx, received, []store.DoorEvents{{Door: b.Door, Events: b.Events}})
		must(err)
		svc.Committed(received, []ingest.Batch{b})
		received++
	}
	must(svc.Flush(ctx))
	f.reg = metrics.NewRegistry()
	f.srv = api.New(api.Config{Store: f.st, Metrics: f.reg, Logger: slog.New(slog.NewTextHandler(f.log, nil)),
		Now: func() time.Time { return t0 }, Credit: svc})
	return svc
}

func (f *fixture) settlement(who, path string) credit.Settlement {
	f.t.Helper()
	res := f.do(who, "GET", path, nil)
	require.Equal(f.t, http.StatusOK, res.Status, "%s", res.Body)
	var s credit.Settlement
	require.NoError(f.t, json.Unmarshal(res.Body, &s))
	checkSchema(f.t, "Settlement", res.Body)
	return s
}

func (f *fixture) statement(who, path string) credit.Statement {
	f.t.Helper()
	res := f.do(who, "GET", path, nil)
	require.Equal(f.t, http.StatusOK, res.Status, "%s", res.Body)
	var s credit.Statement
	require.NoError(f.t, json.Unmarshal(res.Body, &s))
	checkSchema(f.t, "Statement", res.Body)
	return s
}

func centers(s credit.Settlement) map[string]credit.CenterLine {
	out := map[string]credit.CenterLine{}
	for _, l := range s.Centers {
		out[l.CenterID] = l
	}
	return out
}

func visitCenters(st credit.Statement) []string {
	out := []string{}
	for _, v := range st.Visits {
		out = append(out, v.CenterID)
	}
	return out
}

func TestSettlementByRole(t *testing.T) {
	f := newFixture(t)
	march(t, f)
	all := f.settlement("admin", "/settlements/2026-03")
	lines := centers(all)
	require.Len(t, lines, 2)
	assert.Equal(t, int64(120), lines["c1"].NomadicMinutes)
	assert.Equal(t, int64(60), lines["c1"].CrossCenterMinutes, "m2 of c2 at c1")
	assert.Equal(t, int64(60), lines["c2"].NomadicMinutes)
	assert.Equal(t, int64(60), lines["c2"].CrossCenterMinutes, "m1 of c1 at c2")
	assert.Equal(t, int64(2), lines["c2"].HomeRecordedVisits, "x2 at home, and m2's no-show (the fixture's booking k2)")
	assert.Equal(t, int64(2000+1000), lines["c1"].TotalCents, "2 h nomadic and 1 h cross-center at 10.00")
	assert.False(t, all.Closed)
	assert.NotEmpty(t, all.Counts)

	mine := f.settlement("mgr1", "/settlements/2026-03")
	require.Len(t, mine.Centers, 1)
	assert.Equal(t, lines["c1"], mine.Centers[0])
	for _, l := range mine.CrossCenter {
		assert.True(t, l.HostCenterID == "c1" || l.HomeCenterID == "c1", "%+v", l)
	}
	assert.Len(t, mine.CrossCenter, 2, "c1 hosts m2 of c2; c1's m1 visits c2")
	assert.Nil(t, mine.Counts, "no network-wide counts for a manager")
	assert.Equal(t, lines["c1"].TotalCents, mine.TotalCents)

	res := f.do("tech1", "GET", "/settlements/2026-03", nil)
	require.Equal(t, http.StatusForbidden, res.Status)
	assert.Equal(t, "forbidden", res.Err.Code)
}

func TestSettlementCSVDownload(t *testing.T) {
	f := newFixture(t)
	march(t, f)
	get := func(who, path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", api.Prefix+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[who])
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := apitest.Serve(t, f.srv, req)
		require.Equal(t, http.StatusOK, rec.Code, "%s", rec.Body)
		return rec
	}
	tests := []struct {
		name, who, path, accept string
		csv                     bool
		filename                string
	}{
		{"format=csv", "admin", "/settlements/2026-03?format=csv", "", true, "settlement-2026-03.csv"},
		{"Accept: text/csv", "admin", "/settlements/2026-03", "text/csv", true, "settlement-2026-03.csv"},
		{"JSON preferred", "admin", "/settlements/2026-03", "application/json, text/csv;q=0.5", false, ""},
		{"CSV preferred", "admin", "/settlements/2026-03", "application/json;q=0.2, text/csv", true, "settlement-2026-03.csv"},
		{"format wins over Accept", "admin", "/settlements/2026-03?format=json", "text/csv", false, ""},
		{"manager", "mgr1", "/settlements/2026-03?format=csv", "", true, "settlement-2026-03-c1.csv"},
		{"statement", "admin", "/members/n1/statement?period=2026-03&format=csv", "", true, "statement-n1-2026-03.csv"},
		{"host's part of a statement", "mgr1", "/members/n1/statement?period=2026-03", "text/csv", true, "statement-n1-2026-03-c1.csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.who, tc.path, tc.accept)
			if !tc.csv {
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				assert.Empty(t, rec.Header().Get("Content-Disposition"))
				return
			}
			assert.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Equal(t, `attachment; filename=`+tc.filename, rec.Header().Get("Content-Disposition"))
			rows, err := csv.NewReader(rec.Body).ReadAll()
			require.NoError(t, err)
			require.Greater(t, len(rows), 1)
			if strings.HasPrefix(tc.filename, "settlement") {
				assert.Equal(t, credit.SettlementCSVHeader, rows[0])
			} else {
				assert.Equal(t, credit.StatementCSVHeader, rows[0])
			}
			for _, r := range rows[1:] {
				if tc.who == "mgr1" && strings.HasPrefix(tc.filename, "statement") {
					assert.Equal(t, "c1", r[3], "only visits at c1: %v", r)
				}
			}
		})
	}
	rows, err := csv.NewReader(get("mgr1", "/settlements/2026-03?format=csv", "").Body).ReadAll()
	require.NoError(t, err)
	assert.Contains(t, rows, []string{"2026-03", "false", "credit", "c1", "nomadic", "", "", "120", "2.00", "1000", "2000"})
	for _, r := range rows[1:] {
		switch line, center, counterpart := r[2], r[3], r[5]; line {
		case "credit", "total", "adjustment", "own_staff_bookings":
			assert.Equal(t, "c1", center, "a manager gets only their center's lines: %v", r)
		case "invoice":
			assert.True(t, center == "c1" || counterpart == "c1", "invoices where c1 is home or host: %v", r)
		default:
			assert.Fail(t, "unknown line", "%v", r)
		}
	}
}

func TestStatementPrivacy(t *testing.T) {
	f := newFixture(t)
	march(t, f)
	const q = "/statement?period=2026-03"

	full := f.statement("admin", "/members/n1"+q)
	assert.Equal(t, "nomad", full.Name)
	assert.Equal(t, []string{"c1", "c2"}, visitCenters(full))
	assert.Equal(t, int64(180), full.CreditedMinutes)

	host := f.statement("mgr1", "/members/n1"+q)
	assert.Empty(t, host.Name, "a host center does not learn who a nomadic member is")
	assert.Equal(t, []string{"c1"}, visitCenters(host), "nor where else they went")
	assert.Equal(t, int64(120), host.CreditedMinutes)
	assert.Nil(t, host.Counts)

	local := f.statement("mgr1", "/members/m1"+q)
	assert.Equal(t, "local", local.Name, "a center sees its own members' whole statement")
	// m1's no-show at home (the fixture's booking k1), and their visit to
	// c2, which c1 is invoiced for.
	assert.Equal(t, []string{"c1", "c2"}, visitCenters(local), "including their visits elsewhere")

	visitor := f.statement("mgr1", "/members/m2"+q)
	assert.Equal(t, []string{"c1"}, visitCenters(visitor))
	assert.Empty(t, visitor.Name)

	tests := []struct {
		name, who, path string
		status          int
		code, field     string
	}{
		{"member never at c1", "mgr1", "/members/x2" + q, 404, "not_found", "id"},
		{"not at c1 that month", "mgr1", "/members/n1/statement?period=2026-02", 404, "not_found", "id"},
		{"technician", "tech1", "/members/m1" + q, 403, "forbidden", ""},
		{"unknown member", "admin", "/members/nobody" + q, 404, "not_found", "id"},
		{"no period", "admin", "/members/n1/statement", 400, "invalid", "period"},
		{"bad period", "admin", "/members/n1/statement?period=2026-3", 400, "invalid", "period"},
		{"month 13", "admin", "/members/n1/statement?period=2026-13", 400, "invalid", "period"},
		{"bad format", "admin", "/members/n1" + q + "&format=xml", 400, "invalid", "format"},
		{"unknown parameter", "admin", "/members/n1" + q + "&center=c1", 400, "unknown_parameter", "center"},
		{"bad member id", "admin", "/members/a%20b" + q, 400, "invalid", "id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(tc.who, "GET", tc.path, nil)
			require.Equal(t, tc.status, res.Status, "%s", res.Body)
			assert.Equal(t, tc.code, res.Err.Code)
			assert.Equal(t, tc.field, res.Err.Field)
		})
	}
}

func TestClosePeriod(t *testing.T) {
	f := newFixture(t)
	svc := march(t, f)
	tests := []struct {
		name, who, path string
		status          int
		code            string
	}{
		{"manager", "mgr1", "/periods/2026-03/close", 403, "forbidden"},
		{"technician", "tech1", "/periods/2026-03/close", 403, "forbidden"},
		{"not a period", "admin", "/periods/march/close", 400, "invalid"},
		{"not over", "admin", "/periods/2026-04/close", 409, "period_not_over"},
		{"close", "admin", "/periods/2026-03/close", 200, ""},
		{"again", "admin", "/periods/2026-03/close", 409, "already_closed"},
		{"out of order", "admin", "/periods/2026-05/close", 409, "close_order"},
	}
	for _, tc := range tests {
		res := f.do(tc.who, "POST", tc.path, nil)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		if tc.code != "" {
			assert.Equal(t, tc.code, res.Err.Code, tc.name)
			continue
		}
		checkSchema(t, "Settlement", res.Body)
		var s credit.Settlement
		require.NoError(t, json.Unmarshal(res.Body, &s))
		assert.True(t, s.Closed)
	}
	closed := f.settlement("admin", "/settlements/2026-03")
	assert.True(t, closed.Closed)
	assert.Equal(t, int64(120), centers(closed)["c1"].NomadicMinutes)

	// A late tap of 20 March (door d1 was offline): March stays frozen,
	// April books 1 h for c1 as an adjustment of March.
	ctx := context.Background()
	start := time.Date(2026, 3, 20, 9, 0, 0, 0, time.UTC)
	bk := domain.Booking{ID: "late", MemberID: "n1", CenterID: "c1", Start: start, End: start.Add(time.Hour), Status: domain.BookingConfirmed}
	require.NoError(t, f.st.CreateBooking(ctx, bk))
	svc.Changed(ctx, domain.Change{Kind: domain.KindBooking, Booking: &bk}) // as serve's feed does
	late := ingest.Batch{Door: "d1", Events: []protocol.Event{{Seq: 9, TimeMs: start.UnixMilli(), Trusted: true, Boot: "b",
		Kind: protocol.EventTap, UID: "11111111", Member: "n1", Reason: protocol.GrantedBooking}}}
	received := time.Date(2026, 4, 9, 8, 0, 0, 0, time.UTC).UnixMilli()
	_, err := f.st.AppendBatches(ctx, received, []store.DoorEvents{{Door: late.Door, Events: late.Events}})
	require.NoError(t, err)
	svc.Committed(received, []ingest.Batch{late})
	require.NoError(t, svc.Flush(ctx))
	assert.Equal(t, closed, f.settlement("admin", "/settlements/2026-03"), "a closed period never changes")
	april := f.settlement("mgr1", "/settlements/2026-04")
	require.Len(t, april.Adjustments, 1, "%+v", april)
	assert.Equal(t, credit.AdjustmentLine{CenterID: "c1", BelongsTo: closed.Period, Class: credit.ClassNomadic,
		Minutes: 60, RateCents: 1000, AmountCents: 1000}, april.Adjustments[0])

	var text bytes.Buffer
	require.NoError(t, f.reg.WriteText(&text))
	assert.Contains(t, text.String(), `swc_api_rejects_total{code="already_closed"} 1`)
	assert.Contains(t, f.log.String(), "code=period_not_over")
	assert.Contains(t, f.log.String(), "api: period closed")
}

func TestCreditingUnavailable(t *testing.T) {
	f := newFixture(t) // an API without crediting
	for _, path := range []string{"/settlements/2026-03", "/members/n1/statement?period=2026-03"} {
		res := f.do("admin", "GET", path, nil)
		require.Equal(t, http.StatusServiceUnavailable, res.Status, path)
		assert.Equal(t, "crediting_unavailable", res.Err.Code)
	}
	res := f.do("admin", "POST", "/periods/2026-03/close", nil)
	require.Equal(t, http.StatusServiceUnavailable, res.Status)
}

// checkSchema checks a JSON body against the OpenAPI document's schema of
// that name: types, required properties, and no property it does not
// describe (so the document stays true for these responses).
func checkSchema(t *testing.T, name string, body []byte) {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(api.OpenAPI(), &doc))
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	var check func(path string, schema map[string]any, v any)
	check = func(path string, schema map[string]any, v any) {
		if ref, ok := schema["$ref"].(string); ok {
			schema = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		}
		switch schema["type"] {
		case "object":
			obj, ok := v.(map[string]any)
			require.True(t, ok, "%s: want an object, got %v", path, v)
			props, _ := schema["properties"].(map[string]any)
			for _, r := range asSlice(schema["required"]) {
				require.Contains(t, obj, r.(string), "%s: required property", path)
			}
			for k, val := range obj {
				if p, ok := props[k]; ok {
					check(path+"."+k, p.(map[string]any), val)
					continue
				}
				switch extra := schema["additionalProperties"].(type) {
				case map[string]any:
					check(path+"."+k, extra, val)
				default:
					require.Fail(t, "undocumented property", "%s.%s", path, k)
				}
			}
		case "array":
			arr, ok := v.([]any)
			require.True(t, ok, "%s: want an array, got %v", path, v)
			for i, x := range arr {
				check(path+"["+strconv.Itoa(i)+"]", schema["items"].(map[string]any), x)
			}
		case "integer":
			n, ok := v.(float64)
			require.True(t, ok && n == float64(int64(n)), "%s: want an integer, got %v", path, v)
		case "string":
			_, ok := v.(string)
			require.True(t, ok, "%s: want a string, got %v", path, v)
			if enum := asSlice(schema["enum"]); len(enum) > 0 {
				require.Contains(t, enum, v, "%s", path)
			}
		case "boolean":
			_, ok := v.(bool)
			require.True(t, ok, "%s: want a boolean, got %v", path, v)
		}
	}
	check(name, map[string]any{"$ref": "#/components/schemas/" + name}, v)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestCloseThrough: the endpoint's roles, checks and answer (the crediting
// clock stands on 10 April, so March alone can close here; closing several
// periods at once is crediting's TestCloseThrough): the answer lists the
// periods closed with their frozen settlements, as GET /settlements serves
// them after.
func TestCloseThrough(t *testing.T) {
	f := newFixture(t)
	march(t, f)
	tests := []struct {
		name, who, path string
		status          int
		code            string
		closed          []string
	}{
		{"manager", "mgr1", "/periods/2026-03/close-through", 403, "forbidden", nil},
		{"technician", "tech1", "/periods/2026-03/close-through", 403, "forbidden", nil},
		{"not a period", "admin", "/periods/march/close-through", 400, "invalid", nil},
		{"not over", "admin", "/periods/2026-04/close-through", 409, "period_not_over", nil},
		{"through march", "admin", "/periods/2026-03/close-through", 200, "", []string{"2026-03"}},
		{"already closed", "admin", "/periods/2026-03/close-through", 409, "already_closed", nil},
	}
	for _, tc := range tests {
		res := f.do(tc.who, "POST", tc.path, nil)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		if tc.code != "" {
			assert.Equal(t, tc.code, res.Err.Code, tc.name)
			continue
		}
		var got api.CloseThroughResult
		require.NoError(t, json.Unmarshal(res.Body, &got))
		var names []string
		for i, p := range got.Closed {
			names = append(names, p.String())
			assert.True(t, got.Settlements[i].Closed)
			assert.Equal(t, *got.Settlements[i], f.settlement("admin", "/settlements/"+p.String()))
		}
		assert.Equal(t, tc.closed, names)
	}
	assert.Equal(t, int64(120), centers(f.settlement("admin", "/settlements/2026-03"))["c1"].NomadicMinutes)

	// The closed March is approved once, by an admin.
	approvals := []struct {
		name, who, method, path string
		status                  int
		code                    string
	}{
		{"manager approves", "mgr1", "POST", "/periods/2026-03/approve", 403, "forbidden"},
		{"not approved yet", "mgr1", "GET", "/periods/2026-03/approval", 404, "not_found"},
		{"approve", "admin", "POST", "/periods/2026-03/approve", 201, ""},
		{"again", "admin", "POST", "/periods/2026-03/approve", 409, "already_approved"},
		{"open period", "admin", "POST", "/periods/2026-04/approve", 409, "not_closed"},
		{"manager reads", "mgr1", "GET", "/periods/2026-03/approval", 200, ""},
	}
	for _, tc := range approvals {
		res := f.do(tc.who, tc.method, tc.path, nil)
		require.Equal(t, tc.status, res.Status, "%s: %s", tc.name, res.Body)
		if tc.code != "" {
			assert.Equal(t, tc.code, res.Err.Code, tc.name)
			continue
		}
		checkSchema(t, "SettlementApproval", res.Body)
		var a store.SettlementApproval
		require.NoError(t, json.Unmarshal(res.Body, &a))
		assert.Equal(t, "admin", a.ApprovedBy, tc.name)
		assert.Equal(t, int64(5000), a.TotalCents, tc.name)
		assert.Equal(t, "EUR", a.Currency, tc.name)
	}
}
