package credit_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
)

// novemberScenario: nomad 3 h at ctr-a and 1 h 15 at ctr-b; local (home
// ctr-a) 1 h 30 at ctr-b and 1 h at home.
func novemberScenario(t *testing.T) (*credit.Result, credit.Period) {
	t.Helper()
	es := new(events).
		in("a-in", "nomad", "2026-11-10 09:00").out("a-out", "nomad", "2026-11-10 12:00").
		in("b-in", "nomad", "2026-11-10 13:00").out("b-out", "nomad", "2026-11-10 14:15").
		in("b-in", "local", "2026-11-12 09:00").out("b-out", "local", "2026-11-12 10:30").
		in("a-in", "local", "2026-11-13 09:00").out("a-out", "local", "2026-11-13 10:00")
	r, err := credit.Compute(testConfig(t), testDir(), es.evs)
	require.NoError(t, err)
	p, err := credit.ParsePeriod("2026-11")
	require.NoError(t, err)
	return r, p
}

func TestSettlement(t *testing.T) {
	r, p := novemberScenario(t)
	s := r.Settlement(p)
	require.Len(t, s.Centers, 3)
	a, _ := s.Center("ctr-a")
	b, _ := s.Center("ctr-b")
	n, _ := s.Center("ctr-n")

	assert.Equal(t, credit.CenterLine{CenterID: "ctr-a", Name: "A", RateCents: 1000, CreditedVisits: 1,
		NomadicMinutes: 180, NomadicCents: 180 * 1000 / 60, AmountCents: 3000, TotalCents: 3000,
		HomeRecordedVisits: 1, InvoiceMinutes: 90, InvoiceCents: 90 * 1200 / 60}, a)
	assert.Equal(t, credit.CenterLine{CenterID: "ctr-b", Name: "B", RateCents: 1200, CreditedVisits: 2,
		NomadicMinutes: 75, CrossCenterMinutes: 90, NomadicCents: 75 * 1200 / 60, CrossCenterCents: 90 * 1200 / 60,
		AmountCents: 1500 + 1800, TotalCents: 3300}, b)
	assert.Equal(t, credit.CenterLine{CenterID: "ctr-n", Name: "N", RateCents: 1000}, n)
	assert.Equal(t, []credit.CrossCenterLine{{HostCenterID: "ctr-b", HomeCenterID: "ctr-a", Minutes: 90, RateCents: 1200, AmountCents: 1800}}, s.CrossCenter)
	assert.Equal(t, int64(6300), s.TotalCents)
	assert.Equal(t, int64(8), s.Counts[credit.CountEntries]+s.Counts[credit.CountExits])
	assert.Equal(t, credit.RoundingRule, s.Rounding)
	assert.False(t, s.Closed)

	mine := s.ForCenter("ctr-a")
	require.Len(t, mine.Centers, 1)
	assert.Equal(t, "ctr-a", mine.Centers[0].CenterID)
	assert.Len(t, mine.CrossCenter, 1, "ctr-a is invoiced for its member at ctr-b")
	assert.Equal(t, int64(3000), mine.TotalCents)
	assert.Nil(t, mine.Counts)
	assert.Empty(t, s.ForCenter("ctr-n").CrossCenter)
}

func TestStatement(t *testing.T) {
	r, p := novemberScenario(t)
	st := r.Statement("local", p)
	assert.Equal(t, "Local", st.Name)
	assert.Equal(t, "ctr-a", st.HomeCenterID)
	assert.False(t, st.Nomadic)
	assert.Equal(t, int64(90), st.CreditedMinutes)
	assert.Equal(t, []credit.StatementCenter{
		{CenterID: "ctr-a", Class: credit.ClassHome, Visits: 1},
		{CenterID: "ctr-b", Class: credit.ClassCrossCenter, Visits: 1, CreditedVisits: 1, CreditedMinutes: 90},
	}, st.Centers)
	require.Len(t, st.Visits, 2)

	host := st.ForCenter("ctr-b")
	assert.Empty(t, host.Name, "a host center does not see who the member is")
	assert.Nil(t, host.Counts)
	assert.Equal(t, []credit.StatementCenter{st.Centers[1]}, host.Centers)
	require.Len(t, host.Visits, 1)
	assert.Equal(t, "ctr-b", host.Visits[0].CenterID)
	assert.Equal(t, int64(90), host.CreditedMinutes)
	assert.Empty(t, st.ForCenter("ctr-n").Visits)
	assert.Equal(t, "Local", st.Name, "the statement itself is unchanged")
	require.Len(t, st.Visits, 2)

	unknown := r.Statement("nobody", p)
	assert.Empty(t, unknown.Visits)
	assert.Equal(t, int64(0), unknown.CreditedMinutes)
}

func TestSettlementCSV(t *testing.T) {
	r, p := novemberScenario(t)
	var buf bytes.Buffer
	require.NoError(t, r.Settlement(p).Write(&buf, credit.FormatCSV))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, credit.SettlementCSVHeader, rows[0])
	// 3 centers × 2 credit lines, 1 invoice line, 3 own-staff lines, 3 totals.
	require.Len(t, rows, 1+6+1+3+3)
	assert.Contains(t, rows, []string{"2026-11", "false", "credit", "ctr-b", "cross_center", "", "", "90", "1.50", "1200", "1800"})
	assert.Contains(t, rows, []string{"2026-11", "false", "invoice", "ctr-a", "cross_center", "ctr-b", "", "90", "1.50", "1200", "1800"})
	assert.Contains(t, rows, []string{"2026-11", "false", "own_staff_bookings", "ctr-b", "", "", "", "0", "0.00", "", ""})
	assert.Contains(t, rows, []string{"2026-11", "false", "total", "ctr-b", "", "", "", "", "", "", "3300"})
}

func TestStatementCSVAndJSON(t *testing.T) {
	r, p := novemberScenario(t)
	st := r.Statement("local", p)
	var buf bytes.Buffer
	require.NoError(t, st.Write(&buf, credit.FormatCSV))
	rows, err := csv.NewReader(&buf).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, credit.StatementCSVHeader, rows[0])
	assert.Equal(t, []string{"2026-11", "local", "visit", "ctr-b", "cross_center", "walk_in", "",
		"2026-11-12T09:00:00+01:00", "2026-11-12T10:30:00+01:00", "5400", "true", "90", "1.50", "", "", ""}, rows[1])

	buf.Reset()
	require.NoError(t, st.Write(&buf, credit.FormatJSON))
	var back credit.Statement
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	assert.Equal(t, *st, back)

	err = st.Write(&buf, "xml")
	assert.True(t, errors.Is(err, credit.ErrFormat))
}

func TestSettlementJSONRoundTrip(t *testing.T) {
	r, p := novemberScenario(t)
	s := r.Settlement(p)
	var buf bytes.Buffer
	require.NoError(t, s.Write(&buf, credit.FormatJSON))
	var back credit.Settlement
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	assert.Equal(t, *s, back)
}

func TestDirectoryProblemsAreReported(t *testing.T) {
	centers := append(testCenters(), domain.Center{ID: "bad tz", Name: "X", TimeZone: "Mars/Olympus"})
	doors := append(testDoors(), domain.Door{ID: "z-in", CenterID: "ctr-z", Name: "Z"}, testDoors()[0])
	members := append(testMembers(), domain.Member{ID: "far", Name: "Far", HomeCenterID: "ctr-z", Status: domain.MemberActive})
	bookings := []domain.Booking{
		booking("bk-ok", "booker", "ctr-a", "2026-11-10 09:00", "2026-11-10 10:00"),
		booking("bk-center", "booker", "ctr-z", "2026-11-10 09:00", "2026-11-10 10:00"),
		booking("bk-member", "ghost", "ctr-a", "2026-11-10 09:00", "2026-11-10 10:00"),
		booking("bk-ok", "booker", "ctr-a", "2026-11-11 09:00", "2026-11-11 10:00"),
	}
	dir := credit.NewDirectory(centers, doors, members, bookings, testPasses())
	kinds := map[string]domain.Kind{}
	for _, p := range dir.Problems() {
		kinds[p.ID] = p.Kind
	}
	assert.Equal(t, map[string]domain.Kind{"bad tz": domain.KindCenter, "z-in": domain.KindDoor, "a-in": domain.KindDoor,
		"far": domain.KindMember, "bk-center": domain.KindBooking, "bk-member": domain.KindBooking, "bk-ok": domain.KindBooking}, kinds)
	assert.Equal(t, []string{"ctr-a", "ctr-b", "ctr-n"}, dir.CenterIDs())

	r, err := credit.Compute(testConfig(t), dir, nil)
	require.NoError(t, err)
	s := r.Settlement(mustPeriod(t, "2026-11"))
	assert.Len(t, s.Problems, len(kinds))
	assert.Nil(t, s.ForCenter("ctr-a").Problems)
	// The first bk-ok is kept: a no-show on the 10th.
	assert.Equal(t, []string{"ctr-a 11-10 09:00→10:00 booking nomadic no_show"}, showAll(r.MemberPeriod("booker", mustPeriod(t, "2026-11")).Visits))
}
