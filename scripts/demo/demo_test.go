package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// console is the demo's terminal as a newcomer sees it: what it printed so
// far, and a keyboard.
type console struct {
	t     *testing.T
	keys  *io.PipeWriter
	lines chan string
	seen  []string
}

// await reads printed lines until one matches re, and returns its groups.
func (c *console) await(re string) []string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	timeout := time.After(3 * time.Minute)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("the demo ended before printing %q:\n%s", re, strings.Join(c.seen, "\n"))
			}
			c.seen = append(c.seen, l)
			if m := rx.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timeout:
			c.t.Fatalf("the demo did not print %q:\n%s", re, strings.Join(c.seen, "\n"))
		}
	}
}

func (c *console) type_(line string) {
	c.t.Helper()
	_, err := fmt.Fprintln(c.keys, line)
	require.NoError(c.t, err)
}

// tap runs a printed `swc-edge tap` line with --json and returns the event.
func tap(t *testing.T, command string) protocol.Event {
	t.Helper()
	args := append(strings.Fields(command), "--json")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).Output()
	require.NoError(t, err, "%s: %s", command, out)
	var ev protocol.Event
	require.NoError(t, json.Unmarshal(out, &ev), "%s", out)
	return ev
}

// eventually polls cond for up to a minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesUnder lists the running processes whose command line names dir.
func processesUnder(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var found []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		if cmd := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(cmd, dir) {
			found = append(found, e.Name()+": "+cmd)
		}
	}
	return found
}

// TestDemo drives `make demo` as a newcomer would, without a terminal:
// start it, tap the badges it suggests, watch the central and the
// dashboard, cut a door off and bring it back, press Ctrl-C, and check
// that every relay ended locked and no process is left.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole network")
	}
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	keysR, keysW := io.Pipe()
	outR, outW := io.Pipe()
	con := &console{t: t, keys: keysW, lines: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			con.lines <- sc.Text()
		}
		close(con.lines)
	}()
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"--http", "127.0.0.1:0"}, keysR, outW, outW)
		outW.Close()
	}()

	base := con.await(`^Dashboard:\s+(http://\S+)/$`)[1]
	staff := con.await(`staff sign-in: (\S+), password (\S+),$`)
	staffEmail, staffPassword := staff[1], staff[2]
	codeCommand := con.await(`then the code of TOTP secret \S+ \(any authenticator app, or: (.+)\)$`)[1]
	token := con.await(`log in with the admin token: (\S+)\s`)[1]
	memberEmail := con.await(`^\s+sign in as (\S+): the code arrives`)[1]
	granted := con.await(`granted, Nora's desk booking:\s+(.+)$`)[1]
	unknown := con.await(`an unknown badge, refused:\s+(.+)$`)[1]
	later := con.await(`Leo's booking starts later:\s+(.+)$`)[1]
	room := con.await(`the meeting room, Milan:\s+(.+)$`)[1]
	revoked := con.await(`Omar's lost badge, revoked:\s+(.+)$`)[1]
	offline := con.await(`then tap:\s+(.+)$`)[1]
	billedPeriod := con.await(`^Invoices of (\d{4}-\d{2}), issued at start`)[1]
	invoiced := con.await(`^\s+(\d+) documents, PDF .*:\s+(\S+)$`)
	csvFile := con.await(`^\s+for accounting software:\s+(\S+)$`)[1]
	payoutsFile := con.await(`^\s+the centers' payouts, SEPA pain\.001 .*:\s+(\S+)$`)[1]
	billingPages := con.await(`^\s+in the console: (\S+)\s+members: (\S+)$`)
	dir := con.await(`^Working folder: (\S+)$`)[1]
	invoiceMails := 0
	for _, l := range con.seen {
		if regexp.MustCompile(`^\[mail\] to \S+@example\.org: .* \(PDF attached: \S+\.pdf\)$`).MatchString(l) {
			invoiceMails++
		}
	}

	api := func(path string, out any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+"/api/v1"+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	// storedAs is the central's number of the door's event seq (the number
	// the door gave it in its own store), and whether the central has it.
	storedAs := func(door string, seq uint64) (uint64, bool) {
		var page struct {
			Items []struct {
				Seq     uint64 `json:"seq"`
				DoorSeq uint64 `json:"door_seq"`
			}
		}
		api("/events?door="+door, &page)
		for _, e := range page.Items {
			if e.DoorSeq == seq {
				return e.Seq, true
			}
		}
		return 0, false
	}
	stored := func(door string, seq uint64) bool {
		_, ok := storedAs(door, seq)
		return ok
	}

	// The suggested taps decide as the instructions say.
	ev := tap(t, granted)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)
	assert.Equal(t, "nora", ev.Member)
	assert.Equal(t, protocol.DeniedUnknownBadge, tap(t, unknown).Reason)
	assert.Contains(t, []protocol.Reason{protocol.DeniedOutsideWindow, protocol.DeniedNoBooking}, tap(t, later).Reason)
	assert.Equal(t, protocol.GrantedBooking, tap(t, room).Reason)
	assert.Equal(t, protocol.DeniedRevoked, tap(t, revoked).Reason)

	// The grant released the relay of bru-front, and only for unlock_time.
	journal, err := os.ReadFile(filepath.Join(dir, "doors", "bru-front", "data", "sim-gpio.log"))
	require.NoError(t, err)
	assert.Contains(t, string(journal), " unlocked\n", "the granted tap drove the relay")

	// The grant reached the central and shows on the dashboard.
	eventually(t, "the granted tap stored by the central", func() bool { return stored("bru-front", ev.Seq) })
	// The staff sign-in the demo printed works: e-mail, password, then the
	// TOTP code its printed command gives.
	web := signIn(t, base, "/login", url.Values{"email": {staffEmail}, "password": {staffPassword}})
	code, err := exec.Command(strings.Fields(codeCommand)[0], strings.Fields(codeCommand)[1:]...).Output()
	require.NoError(t, err, "%s", codeCommand)
	require.Regexp(t, `^\d{6}\s*$`, string(code))
	submit(t, web, base, "/login/totp", url.Values{"code": {strings.TrimSpace(string(code))}})
	resp, err := web.Get(base + "/")
	require.NoError(t, err)
	home, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(home), "Demo admin", "signed in as the demo's admin")
	// The admin token too, at the break-glass page.
	tokenWeb := signIn(t, base, "/login/token", url.Values{"token": {token}})
	resp, err = tokenWeb.Get(base + "/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Last month was invoiced at start: the documents are in the API and
	// the console, each one's PDF (and UBL for businesses) in the folder
	// the demo printed, with the CSV and the payouts file; every member
	// document was e-mailed.
	checkInvoices(t, invoiceCheck{api: api, web: web, period: billedPeriod, documents: invoiced[1], dir: invoiced[2], csv: csvFile,
		payouts: payoutsFile, console: billingPages[1], working: dir, mails: invoiceMails})

	// A member signs in to the booking site with the code the demo's mail
	// sink prints.
	member := signIn(t, base, "/my/signin", url.Values{"email": {memberEmail}})
	con.await(`^\[mail\] to ` + regexp.QuoteMeta(memberEmail) + `: `)
	memberCode := con.await(`^\[mail\]\s+.*\b(\d{6})\b`)[1]
	submit(t, member, base, "/my/signin/code", url.Values{"code": {memberCode}})
	resp, err = member.Get(base + "/my/")
	require.NoError(t, err)
	mine, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(mine), "Nora Nomad", "signed in to the booking site")
	resp, err = member.Get(billingPages[2])
	require.NoError(t, err)
	mine, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Regexp(t, `SWC-\d{4}-\d{6}`, string(mine), "Nora's invoice of last month on her invoices page")

	resp, err = web.Get(base + "/live")
	require.NoError(t, err)
	live, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", live)
	central, _ := storedAs("bru-front", ev.Seq)
	assert.Regexp(t, `data-door="bru-front" data-seq="`+fmt.Sprint(central)+`"`, string(live))
	assert.Contains(t, string(live), badgeGranted)

	// Cut off, the door decides alone and keeps the event; back, it catches up.
	con.type_("cut gnt-garden")
	con.await(`^gnt-garden is cut off the network`)
	off := tap(t, offline)
	assert.Equal(t, protocol.GrantedPass, off.Reason)
	con.type_("status")
	row := con.await(`^gnt-garden\s+cut\s+v\d+\s+\d+\s+#(\d+)\s+(\d+)\s+`)
	assert.Equal(t, fmt.Sprint(off.Seq), row[1])
	assert.Equal(t, "1", row[2], "the event waits in the door's outbox")
	assert.False(t, stored("gnt-garden", off.Seq), "nothing crossed a cut link")
	con.type_("restore gnt-garden")
	con.await(`^gnt-garden is back on the network`)
	eventually(t, "the offline tap stored after the link returned", func() bool { return stored("gnt-garden", off.Seq) })

	// Ctrl-C: everything stops, every relay locked, nothing left running.
	interrupt()
	con.await(`every simulated relay ended locked \(6 doors\)`)
	select {
	case code := <-exit:
		assert.Equal(t, 0, code)
	case <-time.After(time.Minute):
		t.Fatal("the demo did not end after Ctrl-C")
	}
	assert.Empty(t, processesUnder(t, dir), "processes left behind")
	_, err = os.Stat(dir)
	assert.True(t, os.IsNotExist(err), "the temporary folder is removed")
}

// signIn opens a sign-in form at path (for its CSRF token) and submits it
// with the values; it returns the browser, cookies and all.
func signIn(t *testing.T, base, path string, values url.Values) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	submit(t, web, base, path, values)
	return web
}

// submit gets the form at path, adds its CSRF token to values and posts
// them; the answer must be a redirect (the next step).
func submit(t *testing.T, web *http.Client, base, path string, values url.Values) {
	t.Helper()
	resp, err := web.Get(base + path)
	require.NoError(t, err)
	form, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(form))
	require.NotNil(t, csrf, "%s form:\n%s", path, form)
	values.Set("csrf", csrf[1])
	web.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer func() { web.CheckRedirect = nil }()
	resp, err = web.PostForm(base+path, values)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "%s: %s", path, body)
}

// invoiceCheck is what the demo printed about last month's invoices.
type invoiceCheck struct {
	api                        func(path string, out any)
	web                        *http.Client // the admin, signed in
	period, documents          string
	dir, csv, payouts, console string
	working                    string
	mails                      int
}

// checkInvoices: the period is last month; the API lists the documents
// the demo counted; each has its PDF (a PDF file, and its text names the
// document when pdftotext is installed) and, for a buyer with a Peppol
// address, its UBL invoice naming it; the CSV has a row per document; the
// payouts file is a pain.001 paying something; each member document was
// e-mailed; the console's billing page lists them.
func checkInvoices(t *testing.T, c invoiceCheck) {
	t.Helper()
	assert.Equal(t, lastMonth(time.Now()).String(), c.period)
	assert.True(t, strings.HasPrefix(c.dir, c.working), "%s is in the demo folder", c.dir)
	var page struct {
		Items []struct {
			Number   string `json:"number"`
			MemberID string `json:"member_id"`
		} `json:"items"`
	}
	c.api("/billing/documents?period="+c.period, &page)
	require.NotEmpty(t, page.Items)
	assert.Equal(t, c.documents, fmt.Sprint(len(page.Items)))
	members, ubls := 0, 0
	_, pdftotextErr := exec.LookPath("pdftotext")
	for _, d := range page.Items {
		if d.MemberID != "" {
			members++
		}
		pdfs, err := filepath.Glob(filepath.Join(c.dir, d.Number+"-??.pdf"))
		require.NoError(t, err)
		require.Len(t, pdfs, 1, "the PDF of %s", d.Number)
		b, err := os.ReadFile(pdfs[0])
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(b), "%PDF-"), pdfs[0])
		assert.True(t, strings.HasSuffix(strings.TrimSpace(string(b)), "%%EOF"), pdfs[0])
		if pdftotextErr == nil {
			text, err := exec.Command("pdftotext", pdfs[0], "-").Output()
			require.NoError(t, err, pdfs[0])
			assert.Contains(t, string(text), d.Number, pdfs[0])
		}
		if x, err := os.ReadFile(filepath.Join(c.dir, d.Number+".xml")); err == nil {
			ubls++
			var doc struct {
				XMLName xml.Name
				ID      string `xml:"ID"`
			}
			require.NoError(t, xml.Unmarshal(x, &doc), d.Number)
			assert.Contains(t, []string{"Invoice", "CreditNote"}, doc.XMLName.Local)
			assert.Equal(t, d.Number, doc.ID)
		}
	}
	assert.NotZero(t, ubls, "the businesses' UBL invoices")
	assert.Equal(t, members, c.mails, "one e-mail per member document")
	f, err := os.Open(c.csv)
	require.NoError(t, err)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	require.NoError(t, err)
	assert.Len(t, rows, 1+len(page.Items))
	raw, err := os.ReadFile(c.payouts)
	require.NoError(t, err)
	var sepa struct {
		CtrlSum float64 `xml:"CstmrCdtTrfInitn>GrpHdr>CtrlSum"`
	}
	require.NoError(t, xml.Unmarshal(raw, &sepa))
	assert.Positive(t, sepa.CtrlSum)
	resp, err := c.web.Get(c.console)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, d := range page.Items {
		assert.Contains(t, string(body), d.Number, "the console's billing page")
	}
}
