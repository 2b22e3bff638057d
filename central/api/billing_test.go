package api_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/api"
	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/billing"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/store"
)

func details(kind billing.PartyKind, id, name, enterprise string) billing.Details {
	d := billing.Details{Kind: kind, ID: id, Name: name, Street: "Rue 1", PostalCode: "1000", City: "Bruxelles", Country: "BE",
		Email: id + "@example.org", EnterpriseNumber: enterprise, VATNumber: "BE" + enterprise}
	if kind != billing.PartyMember {
		d.IBAN, d.BIC = "BE68539007547034", "GKCCBEBB"
	}
	return d
}

// TestBilling: March is credited and closed; prices and billing details are
// set through the API (a manager only for its center); the dry run lists
// the member without details; the issue makes the documents once; a
// manager lists and downloads its center's documents only; an admin voids
// an invoice and gets the payouts file. Every write is audited.
func TestBilling(t *testing.T) {
	f := newFixture(t)
	svc := march(t, f)
	f.srv = api.New(api.Config{Store: f.st, Credit: svc, Logger: slog.New(slog.NewTextHandler(f.log, nil)), Now: func() time.Time { return t0 },
		Billing: billing.NewService(billing.Config{Store: f.st.Billing(), Ledger: f.st.Credit(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now: func() time.Time { return time.Date(2026, 4, 10, 10, 0, 0, 0, time.UTC) }})})
	res := f.do("admin", "GET", "/billing/periods/2026-03/dry-run", nil)
	require.Equal(t, http.StatusConflict, res.Status, "%s", res.Body)
	require.Equal(t, "period_not_closed", res.Err.Code)
	res = f.do("admin", "POST", "/periods/2026-03/close", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)

	for _, p := range []billing.Price{
		{Kind: billing.PriceNomadicHour, ValidFrom: mustPeriod(t, "2026-01"), Cents: 900},
		{Kind: billing.PriceCenterHour, CenterID: "c1", ValidFrom: mustPeriod(t, "2026-01"), Cents: 800},
		{Kind: billing.PriceCenterHour, CenterID: "c2", ValidFrom: mustPeriod(t, "2026-01"), Cents: 750},
		// The fixture's room bookings (m1 at r1, m2 at r2) are billed.
		{Kind: billing.PriceRoomHour, CenterID: "c1", RoomID: "r1", ValidFrom: mustPeriod(t, "2026-01"), Cents: 2500, VATExemption: "VATEX-EU-135-1"},
		{Kind: billing.PriceRoomHour, CenterID: "c2", RoomID: "r2", ValidFrom: mustPeriod(t, "2026-01"), Cents: 3000},
	} {
		who := "admin"
		if p.CenterID == "c1" {
			who = "mgr1"
		}
		res = f.do(who, "POST", "/billing/prices", p)
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
		var got billing.Price
		require.NoError(t, json.Unmarshal(res.Body, &got))
		require.Equal(t, t0.UnixMilli(), got.CreatedMs)
		require.Equal(t, who, got.CreatedBy)
	}
	res = f.do("mgr1", "POST", "/billing/prices", billing.Price{Kind: billing.PriceCenterHour, CenterID: "c2", ValidFrom: mustPeriod(t, "2026-05"), Cents: 1})
	require.Equal(t, http.StatusForbidden, res.Status)
	res = f.do("tech1", "GET", "/billing/prices", nil)
	require.Equal(t, http.StatusForbidden, res.Status)
	require.Len(t, f.items("mgr1", "/billing/prices"), 5)

	for _, c := range []struct {
		who  string
		d    billing.Details
		want int
	}{
		{"admin", details(billing.PartyCooperative, billing.CooperativeID, "Smart Work Centers SC", "0403170701"), http.StatusOK},
		{"mgr1", details(billing.PartyCenter, "c1", "Centre 1 SRL", "0202239951"), http.StatusOK},
		{"mgr1", details(billing.PartyCenter, "c2", "Centre 2 SRL", "0477472701"), http.StatusNotFound},
		{"admin", details(billing.PartyCenter, "c2", "Centre 2 SRL", "0477472701"), http.StatusOK},
		{"mgr1", details(billing.PartyMember, "m1", "Ann", "0412345614"), http.StatusOK},
		{"mgr1", details(billing.PartyCooperative, billing.CooperativeID, "X", "0403170701"), http.StatusForbidden},
		{"admin", func() billing.Details {
			d := details(billing.PartyMember, "m2", "Bob", "0412345614")
			d.Country = "Belgium"
			return d
		}(), http.StatusBadRequest},
	} {
		res = f.do(c.who, "PUT", "/billing/details/"+string(c.d.Kind)+"/"+c.d.ID, c.d)
		require.Equal(t, c.want, res.Status, "%s %s: %s", c.who, c.d.ID, res.Body)
	}
	require.Equal(t, "country", res.Err.Field)
	res = f.do("admin", "PUT", "/billing/details/member/m2", billing.Details{Name: "Bob", Country: "BE", Email: "bob@example.org", Private: true})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)

	res = f.do("admin", "GET", "/billing/periods/2026-03/dry-run", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Body)
	var plan billing.Plan
	require.NoError(t, json.Unmarshal(res.Body, &plan))
	require.Equal(t, []billing.Missing{{Kind: billing.PartyMember, ID: "n1", Reason: "no billing details", Code: billing.MissingNoDetails},
		{Kind: billing.PartyMember, ID: "x2", Reason: "no billing details", Code: billing.MissingNoDetails}}, plan.Missing, "members with hours and no details")
	res = f.do("mgr1", "GET", "/billing/periods/2026-03/dry-run", nil)
	require.Equal(t, http.StatusForbidden, res.Status)

	res = f.do("admin", "POST", "/billing/periods/2026-03/issue", nil)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var issued struct {
		Documents []billing.Issued `json:"documents"`
	}
	require.NoError(t, json.Unmarshal(res.Body, &issued))
	require.NotEmpty(t, issued.Documents)
	var numbers []string
	for _, d := range issued.Documents {
		numbers = append(numbers, d.Issuer+"/"+d.Number)
	}
	// m1 (home c1) used c2: C1 invoices m1; m2 (home c2) used c1: C2 invoices
	// m2; n1 and x2 have no details; nomadic hours at c1 and c2 are self-billed;
	// c1 invoices c2 for m2's hour at c1 and c2 invoices c1 for m1's at c2.
	require.ElementsMatch(t, []string{"c1/C1-2026-000001", "c2/C2-2026-000001", "swc-sb/SWC-SB-2026-000001", "swc-sb/SWC-SB-2026-000002",
		"c1/C1-2026-000002", "c2/C2-2026-000002"}, numbers)
	res = f.do("admin", "POST", "/billing/periods/2026-03/issue", nil)
	require.Equal(t, http.StatusCreated, res.Status)
	require.NoError(t, json.Unmarshal(res.Body, &issued))
	require.Empty(t, issued.Documents, "issued once")

	res = f.do("admin", "GET", "/billing/documents?period=2026-03&format=csv", nil)
	require.Equal(t, http.StatusOK, res.Status)
	rows, err := csv.NewReader(bytes.NewReader(res.Body)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 7, "a header and six documents")
	require.Equal(t, "payable", rows[0][17])
	require.Equal(t, "24.20", rows[5][17], "n1's 2 h at c1, 10.00 an hour, 21 %% VAT: %v", rows[5])
	require.Equal(t, "+++260/0000/00170+++", rows[5][18])
	mine := f.items("mgr1", "/billing/documents")
	require.ElementsMatch(t, []string{"C1-2026-000001", "SWC-SB-2026-000001", "C1-2026-000002", "C2-2026-000002"}, field(mine, "number"),
		"what c1 issued, and what was issued to or in the name of c1")
	res = f.do("mgr1", "GET", "/billing/documents/c2/C2-2026-000001/pdf", nil)
	require.Equal(t, http.StatusNotFound, res.Status, "another center's document is hidden")
	res = f.do("mgr1", "GET", "/billing/documents/c1/C1-2026-000001/pdf?lang=nl", nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.True(t, strings.HasPrefix(string(res.Body), "%PDF-"))
	res = f.do("mgr1", "GET", "/billing/documents/c1/C1-2026-000001/ubl", nil)
	require.Equal(t, http.StatusOK, res.Status)
	require.Contains(t, string(res.Body), "<cbc:ID>C1-2026-000001</cbc:ID>")
	res = f.do("admin", "GET", "/billing/documents/c2/C2-2026-000001/ubl", nil)
	require.Equal(t, http.StatusNotFound, res.Status, "a private member gets no UBL")

	res = f.do("mgr1", "POST", "/billing/documents/c1/C1-2026-000001/void", nil)
	require.Equal(t, http.StatusForbidden, res.Status)
	res = f.do("admin", "POST", "/billing/documents/c1/C1-2026-000001/void", nil)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var cn billing.Issued
	require.NoError(t, json.Unmarshal(res.Body, &cn))
	require.Equal(t, "C1-2026-000003", cn.Number)
	require.Equal(t, "C1-2026-000001", cn.Corrects)
	res = f.do("admin", "POST", "/billing/documents/c1/C1-2026-000001/void", nil)
	require.Equal(t, http.StatusConflict, res.Status)

	res = f.do("admin", "GET", "/billing/periods/2026-03/payouts.xml?execution=2026-04-15", nil)
	require.Equal(t, http.StatusOK, res.Status, "%s %s", res.Body, f.log)
	require.Contains(t, string(res.Body), "<Dt>2026-04-15</Dt>")
	// n1's 2 h at c1 and 1 h at c2 at the default 10.00 an hour, plus 21 % VAT.
	require.Contains(t, string(res.Body), "<CtrlSum>36.30</CtrlSum>")
	require.Contains(t, string(res.Body), "<Ref>260000000170</Ref>", "the self-billed invoice's structured communication")

	page, err := f.st.ListAudit(t.Context(), store.AuditFilter{ObjectKind: billing.ObjectDocument})
	require.NoError(t, err)
	require.Len(t, page.Items, 7, "six documents and a credit note")
	require.Equal(t, audit.KindAPIToken, page.Items[0].Actor.Kind)
}

func mustPeriod(t *testing.T, s string) credit.Period {
	p, err := credit.ParsePeriod(s)
	require.NoError(t, err)
	return p
}

// TestBillingPacks: a manager sells hour packs to its center's local
// members, an admin to nomadic members; the packs are listed with what
// they hold; others' members are hidden; a bad pack names its field; the
// sale is audited.
func TestBillingPacks(t *testing.T) {
	f := newFixture(t)
	pack := billing.Pack{ID: "pk1", Hours: 10, Cents: 9000, ValidFrom: mustPeriod(t, "2026-04"), ValidUntil: mustPeriod(t, "2027-03")}
	res := f.do("mgr1", "POST", "/billing/members/m1/packs", pack)
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	var got billing.Pack
	require.NoError(t, json.Unmarshal(res.Body, &got))
	require.Equal(t, "c1", got.Issuer)
	require.Equal(t, "m1", got.MemberID)
	require.Equal(t, int64(600), got.RemainingMinutes)
	require.Equal(t, "mgr1", got.CreatedBy)

	res = f.do("mgr1", "POST", "/billing/members/n1/packs", billing.Pack{ID: "pk2", Hours: 5, ValidFrom: pack.ValidFrom, ValidUntil: pack.ValidFrom})
	require.Equal(t, http.StatusNotFound, res.Status, "a nomadic member's packs are the cooperative's")
	res = f.do("admin", "POST", "/billing/members/n1/packs", billing.Pack{ID: "pk2", Hours: 5, ValidFrom: pack.ValidFrom, ValidUntil: pack.ValidFrom})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Body)
	require.NoError(t, json.Unmarshal(res.Body, &got))
	require.Equal(t, billing.CooperativeID, got.Issuer)

	res = f.do("mgr1", "POST", "/billing/members/m1/packs", billing.Pack{ID: "pk3", ValidFrom: pack.ValidFrom, ValidUntil: pack.ValidFrom})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "hours", res.Err.Field)
	res = f.do("mgr1", "POST", "/billing/members/m1/packs", billing.Pack{ID: "pk3", MemberID: "m2", Hours: 1, ValidFrom: pack.ValidFrom, ValidUntil: pack.ValidFrom})
	require.Equal(t, http.StatusBadRequest, res.Status)
	require.Equal(t, "member_id", res.Err.Field)

	items := f.items("mgr1", "/billing/members/m1/packs")
	require.Len(t, items, 1)
	require.Equal(t, "pk1", items[0]["id"])
	require.EqualValues(t, 600, items[0]["remaining_minutes"])
	res = f.do("mgr1", "GET", "/billing/members/m2/packs", nil)
	require.Equal(t, http.StatusNotFound, res.Status, "another center's member is hidden")
	res = f.do("tech1", "GET", "/billing/members/m1/packs", nil)
	require.Equal(t, http.StatusForbidden, res.Status)

	page, err := f.st.ListAudit(t.Context(), store.AuditFilter{ObjectKind: billing.ObjectPack})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
}
