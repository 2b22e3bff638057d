package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/settings"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
)

// The demo invoices last month (issue 19): its members booked desks then,
// and the demo network's no-show policy is "booked" from that month on (a
// booking counts as attended: the center is paid for it), because the
// demo's doors cannot have been tapped in the past. Billing details for
// every party and the prices are seeded, so that the dry run has nothing
// to fix; the month is closed and issued, and the documents exported.

// Demo prices, without VAT, in euro cents.
const (
	demoNomadicHourCents = 950
	demoCenterHourCents  = 800
	// demoRoomHourCents is each meeting room's price per booked hour
	// (a booked room is billed, attended or not).
	demoRoomHourCents = 2500
)

// demoIBANs are valid IBANs of the demo's parties (the cooperative first).
var demoIBANs = []string{"BE68539007547034", "BE71096123456769", "BE62510007547061", "BE43068999999501"}

// lastMonth is the period before now's, in the network's time zone.
func lastMonth(now time.Time) credit.Period {
	return credit.PeriodOf(now, settings.Location()).Prev()
}

// lastMonthBookings are desk bookings of last month, on weekdays in the
// centers' opening hours: nomadic members at the cooperative's price, and
// Lotte (a local member of Ghent) in Brussels, on Ghent's invoice.
func lastMonthBookings(p credit.Period, centers []domain.Center) []domain.Booking {
	tz := map[string]*time.Location{}
	for _, c := range centers {
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			loc = settings.Location()
		}
		tz[c.ID] = loc
	}
	start := p.Start(settings.Location())
	var out []domain.Booking
	for i, x := range []struct{ member, center string }{
		{"nora", "brussels"}, {"nora", "ghent"}, {"paulo", "lisbon"}, {"greta", "ghent"}, {"greta", "lisbon"},
		{"nomad-1", "brussels"}, {"nomad-2", "ghent"}, {"nomad-3", "lisbon"}, {"nomad-4", "ghent"}, {"lotte", "brussels"},
	} {
		day := start.AddDate(0, 0, 2+2*i)
		for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			day = day.AddDate(0, 0, 1)
		}
		loc := tz[x.center]
		from := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, loc)
		out = append(out, domain.Booking{ID: fmt.Sprintf("bk-%s-%s-%d", x.member, p, i), MemberID: x.member, CenterID: x.center,
			Start: from, End: from.Add(time.Duration(3+i%3) * time.Hour), Status: domain.BookingConfirmed})
	}
	return out
}

// enterprise is a valid Belgian enterprise number made from n.
func enterprise(n int64) string {
	base := 3_000_000 + n
	return fmt.Sprintf("0%07d%02d", base, 97-base%97)
}

// demoDetails are the billing details of every party: the cooperative and
// the centers (businesses, paid on their IBAN), and the members: every
// third a private person, the others businesses (their invoices also in
// Peppol UBL), in French, Dutch and English in turn.
func demoDetails(n demoNetwork) []billing.Details {
	business := func(kind billing.PartyKind, id, name string, i int) billing.Details {
		e := enterprise(int64(i))
		return billing.Details{Kind: kind, ID: id, Name: name, Street: "Rue de la Loi " + fmt.Sprint(10+i), PostalCode: "1000", City: "Bruxelles",
			Country: "BE", Email: "billing-" + id + "@demo.example", EnterpriseNumber: e, VATNumber: "BE" + e}
	}
	coop := business(billing.PartyCooperative, billing.CooperativeID, "Smart Work Centers SC", 0)
	coop.IBAN = demoIBANs[0]
	out := []billing.Details{coop}
	for i, c := range n.centers {
		d := business(billing.PartyCenter, c.ID, c.Name, i+1)
		d.IBAN = demoIBANs[1+i%(len(demoIBANs)-1)]
		out = append(out, d)
	}
	langs := []string{"fr", "nl", "en"}
	for i, m := range n.members {
		d := business(billing.PartyMember, m.ID, m.Name, 10+i)
		if i%3 == 0 {
			d = billing.Details{Kind: billing.PartyMember, ID: m.ID, Name: m.Name, Country: "BE", Private: true}
		}
		d.Email, d.Lang = m.Email, langs[i%len(langs)]
		out = append(out, d)
	}
	return out
}

// seedBillingPolicy makes last month's bookings billable (no-show policy
// "booked" from p on). It runs before the bookings are seeded.
func seedBillingPolicy(ctx context.Context, c *launch.Central, p credit.Period) error {
	var cur struct {
		Current struct {
			Settings settings.Settings `json:"settings"`
		} `json:"current"`
	}
	if err := c.API(ctx, http.MethodGet, "/settings?period="+p.String(), nil, &cur); err != nil {
		return fmt.Errorf("demo billing: %w", err)
	}
	s := cur.Current.Settings
	s.NoShow = credit.NoShowBooked
	body := map[string]any{"effective_from": p.String(), "settings": s,
		"note": "demo: a booking counts as attended (the demo's doors were not tapped last month)"}
	if err := c.API(ctx, http.MethodPut, "/settings", body, nil); err != nil {
		return fmt.Errorf("demo billing: %w", err)
	}
	return nil
}

// seedBilling stores the parties' billing details and the prices from p.
func seedBilling(ctx context.Context, c *launch.Central, n demoNetwork, p credit.Period) error {
	for _, d := range demoDetails(n) {
		if err := c.API(ctx, http.MethodPut, "/billing/details/"+string(d.Kind)+"/"+d.ID, d, nil); err != nil {
			return fmt.Errorf("demo billing details: %w", err)
		}
	}
	prices := []billing.Price{{Kind: billing.PriceNomadicHour, ValidFrom: p, Cents: demoNomadicHourCents}}
	for _, x := range n.centers {
		prices = append(prices, billing.Price{Kind: billing.PriceCenterHour, CenterID: x.ID, ValidFrom: p, Cents: demoCenterHourCents})
	}
	for _, r := range n.rooms {
		prices = append(prices, billing.Price{Kind: billing.PriceRoomHour, CenterID: r.CenterID, RoomID: r.ID, ValidFrom: p, Cents: demoRoomHourCents})
	}
	for _, x := range prices {
		if err := c.API(ctx, http.MethodPost, "/billing/prices", x, nil); err != nil {
			return fmt.Errorf("demo billing prices: %w", err)
		}
	}
	return nil
}

// invoices is what the demo issued and where it wrote the files.
type invoices struct {
	period    credit.Period
	documents int
	mails     int    // members' e-mails
	dir       string // the PDFs, UBL files and CSV
	payouts   string // the SEPA file
	dryRun    string // swc-central billing dry-run's output
}

// issueInvoices closes last month, shows its dry run, issues it as the
// console does (serve e-mails each member), waits for those e-mails, and
// writes the documents and the payouts file with swc-central billing.
func (d *demo) issueInvoices(ctx context.Context, central string, p credit.Period, out io.Writer) (*invoices, error) {
	c := d.central
	if err := c.API(ctx, http.MethodPost, "/periods/"+p.String()+"/close-through", nil, nil); err != nil {
		return nil, fmt.Errorf("demo billing: close %s: %w", p, err)
	}
	data := c.Options.DataDir
	cli := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, central, append(append([]string{"billing"}, args...), "--data", data)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("swc-central billing %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	inv := &invoices{period: p, dir: filepath.Join(d.dir, "invoices", p.String())}
	var err error
	if inv.dryRun, err = cli("dry-run", "--period", p.String()); err != nil {
		return nil, err
	}
	if !strings.Contains(inv.dryRun, "every party has billing details and a price") {
		return nil, fmt.Errorf("demo billing: the dry run of %s has parties to fix:\n%s", p, inv.dryRun)
	}
	before := d.mail.Invoices()
	var res struct {
		Documents []billing.Issued `json:"documents"`
	}
	if err := c.API(ctx, http.MethodPost, "/billing/periods/"+p.String()+"/issue", nil, &res); err != nil {
		return nil, fmt.Errorf("demo billing: issue %s: %w", p, err)
	}
	inv.documents = len(res.Documents)
	for _, x := range res.Documents {
		if x.MemberID != "" {
			inv.mails++
		}
	}
	if _, err := cli("export", "--period", p.String(), "--out", inv.dir); err != nil {
		return nil, err
	}
	inv.payouts = filepath.Join(inv.dir, "payouts-"+p.String()+".xml")
	if _, err := cli("payouts", "--period", p.String(), "--out", inv.payouts); err != nil {
		return nil, err
	}
	// The e-mails go out at once (serve's outbox wakes on each): wait for
	// them, so that they print before the instructions.
	deadline := time.Now().Add(20 * time.Second)
	for d.mail.Invoices()-before < inv.mails && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := d.mail.Invoices() - before; got < inv.mails {
		fmt.Fprintf(out, "demo: %d of the %d invoice e-mails arrived so far (the central's outbox retries the others)\n", got, inv.mails)
	}
	return inv, nil
}
