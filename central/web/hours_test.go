package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestHours credits last month's taps and reads them back on the hours
// page (chart and settlement), in the settlement CSV and on the member
// page, as the manager of c1 and as the admin.
//
// Last month: Nora (nomadic, pass) enters Gent (c1) on the 2nd at 09:05 and
// Leuven (c2) on the 3rd at 16:30; Bert (local member of c2) attends a
// booking at Gent on the 5th, 10:00–12:00. With the default visit of 4 h
// and closing at 18:00, Gent earns 4 h nomadic on the 2nd and 2 h
// cross-center on the 5th (invoiced to Leuven), Leuven 1.5 h nomadic.
func TestHours(t *testing.T) {
	n := startNetwork(t)
	loc, err := time.LoadLocation("Europe/Brussels")
	require.NoError(t, err)
	now := time.Now().In(loc)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc).AddDate(0, -1, 0)
	period := first.Format("2006-01")
	day := func(d, h, m int) time.Time { return time.Date(first.Year(), first.Month(), d, h, m, 0, 0, loc) }
	n.api("POST", "/bookings", map[string]any{"id": "k1", "member_id": "m2", "center_id": "c1",
		"start": day(5, 10, 0), "end": day(5, 12, 0), "status": "confirmed"})
	n.doors["d1"].events(t, tap(1, day(2, 9, 5), "04A1B2C3", "n1", protocol.GrantedPass), tap(2, day(5, 9, 50), "04E1E2E3", "m2", protocol.GrantedBooking))
	n.doors["d2"].events(t, tap(1, day(3, 16, 30), "04A1B2C3", "n1", protocol.GrantedPass))

	mgr := n.login("mgr1")
	code, page := mgr.get("/hours?period=" + period)
	require.Equal(t, http.StatusOK, code, page)
	assert.Contains(t, page, "6.00 h in the month")
	assert.Contains(t, page, "<title>"+day(2, 0, 0).Format("Mon 2 Jan")+": 4.00 h</title>")
	assert.Contains(t, page, "<title>"+day(5, 0, 0).Format("Mon 2 Jan")+": 2.00 h</title>")
	assert.Contains(t, page, "<title>"+day(3, 0, 0).Format("Mon 2 Jan")+": 0.00 h</title>", "Leuven's hours are not Gent's")
	assert.Equal(t, first.AddDate(0, 1, -1).Day(), strings.Count(page, `<rect class="bar"`), "one bar per day of the month")
	assert.NotContains(t, page, `data-center="c2"`)

	code, csv := mgr.get("/hours/settlement.csv?period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, csv, period+",false,credit,c1,nomadic,,,240,4.00,1000,4000\n")
	assert.Contains(t, csv, period+",false,credit,c1,cross_center,,,120,2.00,1000,2000\n")
	assert.Contains(t, csv, period+",false,total,c1,,,,,,,6000\n")
	assert.NotContains(t, csv, "credit,c2", "Leuven's own lines are not shown to Gent")

	adm := n.login("admin")
	code, csv = adm.get("/hours/settlement.csv?period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, csv, period+",false,credit,c2,nomadic,,,90,1.50,1000,1500\n")
	assert.Contains(t, csv, period+",false,invoice,c2,cross_center,c1,,120,2.00,1000,2000\n", "Leuven is invoiced for Bert at Gent")
	code, page = adm.get("/hours?period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, "7.50 h in the month", "all centers")
	code, page = adm.get("/hours?center=c2&period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, "1.50 h in the month")

	code, page = adm.get("/members/n1?period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, `<b id="statement-hours">5.50 h</b>`)
	assert.Contains(t, page, "04A1B2C3")
	code, csv = adm.get("/members/n1/statement.csv?period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, csv, ",n1,visit,c1,nomadic,walk_in,")
	assert.Contains(t, csv, ",n1,visit,c2,nomadic,walk_in,")

	// The manager of c2 sees Bert's statement (their local member) with
	// the visit at Gent they are invoiced for; the manager of c1 does not.
	code, page = n.login("mgr2").get("/members/m2?period=" + period)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, page, "2.00 h")
	code, _ = mgr.get("/members/m2?period=" + period)
	assert.Equal(t, http.StatusNotFound, code, "another center's member is answered as a missing one")
}
