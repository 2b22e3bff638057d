package sepa

import (
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
)

func sample(t *testing.T) Transfer {
	c, err := bank.NewCommunication(2026110001)
	if err != nil {
		t.Fatal(err)
	}
	return Transfer{
		MessageID:     "SWC-PAYOUT-2026-11",
		CreatedAt:     time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC),
		ExecutionDate: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC),
		Debtor:        Account{Name: "Smart Work Centers SC", IBAN: "BE68539007547034", BIC: "GKCCBEBB"},
		Payments: []Payment{
			{EndToEndID: "SB-NAMUR-2026-11", Creditor: Account{Name: "Centre de Namur SRL", IBAN: "BE71096123456769", BIC: "GKCCBEBB"}, AmountCents: 1234567, Communication: c},
			{EndToEndID: "SB-LIEGE-2026-11", Creditor: Account{Name: "Espace Liège Coworking", IBAN: "BE68 5390 0754 7034"}, AmountCents: 98765, Text: "Heures nomades novembre 2026 - Liège"},
			{EndToEndID: "SB-MAAS-2026-11", Creditor: Account{Name: "Werkplek Maastricht", IBAN: "NL91ABNA0417164300", BIC: "ABNANL2A"}, AmountCents: 1},
		},
	}
}

type parsedFile struct {
	NbOfTxs string `xml:"CstmrCdtTrfInitn>GrpHdr>NbOfTxs"`
	CtrlSum string `xml:"CstmrCdtTrfInitn>GrpHdr>CtrlSum"`
	Info    struct {
		NbOfTxs string `xml:"NbOfTxs"`
		CtrlSum string `xml:"CtrlSum"`
		Txs     []struct {
			Amount string `xml:"Amt>InstdAmt"`
			Ref    string `xml:"RmtInf>Strd>CdtrRefInf>Ref"`
			Issr   string `xml:"RmtInf>Strd>CdtrRefInf>Tp>Issr"`
			Ustrd  string `xml:"RmtInf>Ustrd"`
			Name   string `xml:"Cdtr>Nm"`
		} `xml:"CdtTrfTxInf"`
	} `xml:"CstmrCdtTrfInitn>PmtInf"`
}

func parse(t interface{ Fatalf(string, ...any) }, b []byte) parsedFile {
	var p parsedFile
	if err := xml.Unmarshal(b, &p); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func cents(t interface{ Fatalf(string, ...any) }, s string) int64 { return invoicetest.Cents(t, s) }

func TestMarshal(t *testing.T) {
	tr := sample(t)
	b, err := Marshal(&tr)
	if err != nil {
		t.Fatal(err)
	}
	p := parse(t, b)
	if p.NbOfTxs != "3" || p.Info.NbOfTxs != "3" || p.CtrlSum != "13333.33" || p.Info.CtrlSum != "13333.33" {
		t.Errorf("header %+v", p)
	}
	tx := p.Info.Txs
	if tx[0].Ref != "202611000194" || tx[0].Issr != "BBA" || tx[0].Ustrd != "" {
		t.Errorf("structured remittance %+v", tx[0])
	}
	if tx[1].Ustrd != "Heures nomades novembre 2026 - Liege" || tx[1].Name != "Espace Liege Coworking" {
		t.Errorf("unstructured remittance %+v", tx[1])
	}
}

// The property: the control sums (group header and payment block) equal
// the sum of the payments' amounts, and the counts the number of payments.
func TestControlSumProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tr := sample(&testing.T{})
		n := rapid.IntRange(1, 50).Draw(rt, "payments")
		tr.Payments = nil
		var want int64
		for i := range n {
			a := rapid.Int64Range(1, maxAmountCents/100).Draw(rt, "amount")
			want += a
			tr.Payments = append(tr.Payments, Payment{EndToEndID: "P" + string(rune('A'+i%26)) + itoa(i), Creditor: Account{Name: "Center " + itoa(i), IBAN: "BE71096123456769"}, AmountCents: a})
		}
		b, err := Marshal(&tr)
		if err != nil {
			rt.Fatalf("%v", err)
		}
		p := parse(rt, b)
		var sum int64
		for _, x := range p.Info.Txs {
			sum += cents(rt, x.Amount)
		}
		if sum != want || cents(rt, p.CtrlSum) != want || cents(rt, p.Info.CtrlSum) != want || tr.ControlSumCents() != want {
			rt.Fatalf("control sum %s/%s, payments %d; want %d", p.CtrlSum, p.Info.CtrlSum, sum, want)
		}
		if p.NbOfTxs != itoa(n) || p.Info.NbOfTxs != itoa(n) || len(p.Info.Txs) != n {
			rt.Fatalf("counts %s/%s/%d; want %d", p.NbOfTxs, p.Info.NbOfTxs, len(p.Info.Txs), n)
		}
	})
}

func itoa(n int) string { return invoice.Quantity(int64(n) * 1000).String() }

func TestValidateNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		name, field string
		edit        func(*Transfer)
	}{
		{"no message id", "message_id", func(t *Transfer) { t.MessageID = "" }},
		{"long message id", "message_id", func(t *Transfer) { t.MessageID = strings.Repeat("x", 36) }},
		{"bad debtor IBAN", "debtor.iban", func(t *Transfer) { t.Debtor.IBAN = "BE68539007547035" }},
		{"non-SEPA creditor", "payments[0].creditor.iban", func(t *Transfer) { t.Payments[0].Creditor.IBAN = "TR330006100519786457841326" }},
		{"bad BIC", "payments[2].creditor.bic", func(t *Transfer) { t.Payments[2].Creditor.BIC = "ABN" }},
		{"zero amount", "payments[1].amount", func(t *Transfer) { t.Payments[1].AmountCents = 0 }},
		{"both remittances", "payments[0].text", func(t *Transfer) { t.Payments[0].Text = "x" }},
		{"duplicate id", "payments[1].end_to_end_id", func(t *Transfer) { t.Payments[1].EndToEndID = t.Payments[0].EndToEndID }},
		{"no payments", "payments", func(t *Transfer) { t.Payments = nil }},
		{"no execution date", "execution_date", func(t *Transfer) { t.ExecutionDate = time.Time{} }},
		{"no creditor name", "payments[0].creditor.name", func(t *Transfer) { t.Payments[0].Creditor.Name = " " }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := sample(t)
			tc.edit(&tr)
			_, err := Marshal(&tr)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.field+": ") {
				t.Errorf("Marshal = %v; want ErrInvalid naming %s", err, tc.field)
			}
		})
	}
}

func TestLatin(t *testing.T) {
	for in, want := range map[string]string{
		"Espace Liège":         "Espace Liege",
		"Œuvre & Façade":       "Ouvre Facade",
		"  Straße  n°5 ":       "Strase n 5",
		"a/b-c?d:e(f).g,h'i+j": "a/b-c?d:e(f).g,h'i+j",
		"日本":                   "",
	} {
		if got := latin(in, 70); got != want {
			t.Errorf("latin(%q) = %q; want %q", in, got, want)
		}
	}
	if got := latin("abcdef", 3); got != "abc" {
		t.Errorf("truncation: %q", got)
	}
}

// TestSchema validates the file against the EPC's pain.001.001.09 schema
// with xmllint; a copy without its control sum proves xmllint rejects.
func TestSchema(t *testing.T) {
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
			t.Fatalf("xmllint is required (SWC_REQUIRE_SERVICES=1): %v", err)
		}
		t.Skipf("skipping: xmllint not available (%v); apt-get install libxml2-utils", err)
	}
	tr := sample(t)
	b, err := Marshal(&tr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.xml"), filepath.Join(dir, "bad.xml")
	os.WriteFile(good, b, 0o644)
	p := parse(t, b)
	os.WriteFile(bad, []byte(strings.Replace(string(b), "<CtrlSum>"+p.CtrlSum+"</CtrlSum>", "", 1)), 0o644)
	schema := filepath.Join("testdata", "pain.001.001.09.xsd")
	out, err := exec.CommandContext(t.Context(), lint, "--noout", "--nonet", "--schema", schema, good).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint: %v\n%s", err, out)
	}
	t.Logf("xmllint: %s", strings.TrimSpace(string(out)))
	if out, err := exec.CommandContext(t.Context(), lint, "--noout", "--nonet", "--schema", schema, bad).CombinedOutput(); err == nil {
		t.Errorf("xmllint accepted a file without control sum:\n%s", out)
	}
}

func TestQRPayload(t *testing.T) {
	c, _ := bank.NewCommunication(1234567890)
	for _, tc := range []struct {
		name string
		q    QR
		want string
	}{
		{"structured", QR{BIC: "GKCCBEBB", Name: "Smart Work Centers SC", IBAN: "BE68 5390 0754 7034", AmountCents: 24327, Communication: c},
			"BCD\n002\n1\nSCT\nGKCCBEBB\nSmart Work Centers SC\nBE68539007547034\nEUR243.27\n\n123456789002"},
		{"text, no BIC, no amount", QR{Name: "Centre de Namur", IBAN: "BE71096123456769", Text: "Facture SB-1"},
			"BCD\n002\n1\nSCT\n\nCentre de Namur\nBE71096123456769\n\n\n\nFacture SB-1"},
		{"minimal", QR{Name: "X", IBAN: "BE71096123456769"}, "BCD\n002\n1\nSCT\n\nX\nBE71096123456769"},
	} {
		got, err := QRPayload(tc.q)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	for _, q := range []QR{
		{Name: "X", IBAN: "BE71096123456760"},
		{Name: "", IBAN: "BE71096123456769"},
		{Name: "X", IBAN: "BE71096123456769", AmountCents: -1},
		{Name: "X", IBAN: "BE71096123456769", Communication: c, Text: "t"},
		{Name: "X", IBAN: "BE71096123456769", Purpose: "gdds"},
		{Name: "X", IBAN: "BE71096123456769", BIC: "GKC"},
		{Name: "X", IBAN: "BE71096123456769", Text: "a\nb"},
	} {
		if _, err := QRPayload(q); !errors.Is(err, ErrQR) {
			t.Errorf("QRPayload(%+v) = %v; want ErrQR", q, err)
		}
	}
}

func TestInvoiceQR(t *testing.T) {
	samples := invoicetest.Samples()
	got, err := InvoiceQR(&samples[0].Doc)
	if want := "BCD\n002\n1\nSCT\nGKCCBEBB\nSmart Work Centers SC\nBE68539007547034\nEUR243.27\n\n123456789002"; err != nil || got != want {
		t.Errorf("standard: %q, %v; want %q", got, err, want)
	}
	if got, err := InvoiceQR(&samples[3].Doc); got != "" || err != nil {
		t.Errorf("credit note: %q, %v; want nothing to pay", got, err)
	}
	self := samples[4].Doc // no communication: the number as text
	got, err = InvoiceQR(&self)
	if err != nil || !strings.HasSuffix(got, "\n\n"+self.Number) || !strings.Contains(got, "\nCentre de Namur SRL\n") {
		t.Errorf("self-billed: %q, %v", got, err)
	}
}
