package ubl_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/billing/ubl"
)

// parsed reads back the figures of a UBL document.
type parsed struct {
	XMLName  xml.Name
	Customiz string `xml:"CustomizationID"`
	Profile  string `xml:"ProfileID"`
	Type     string `xml:"InvoiceTypeCode"`
	CNType   string `xml:"CreditNoteTypeCode"`
	Billing  string `xml:"BillingReference>InvoiceDocumentReference>ID"`
	Payment  string `xml:"PaymentMeans>PaymentID"`
	IBAN     string `xml:"PaymentMeans>PayeeFinancialAccount>ID"`
	Tax      struct {
		Amount    string `xml:"TaxAmount"`
		Subtotals []struct {
			Taxable string `xml:"TaxableAmount"`
			Amount  string `xml:"TaxAmount"`
			Cat     string `xml:"TaxCategory>ID"`
		} `xml:"TaxSubtotal"`
	} `xml:"TaxTotal"`
	Total struct {
		Lines      string `xml:"LineExtensionAmount"`
		Exclusive  string `xml:"TaxExclusiveAmount"`
		Inclusive  string `xml:"TaxInclusiveAmount"`
		Allowances string `xml:"AllowanceTotalAmount"`
		Payable    string `xml:"PayableAmount"`
	} `xml:"LegalMonetaryTotal"`
	Lines []struct {
		Amount string `xml:"LineExtensionAmount"`
	} `xml:"InvoiceLine"`
	CNLines []struct {
		Amount string `xml:"LineExtensionAmount"`
	} `xml:"CreditNoteLine"`
}

func parse(t interface{ Fatalf(string, ...any) }, b []byte) parsed {
	var p parsed
	if err := xml.Unmarshal(b, &p); err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func cents(t interface{ Fatalf(string, ...any) }, s string) int64 { return invoicetest.Cents(t, s) }

func TestMarshalSamples(t *testing.T) {
	for _, s := range invoicetest.Samples() {
		b, err := ubl.Marshal(&s.Doc)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		p := parse(t, b)
		switch s.Doc.Type {
		case invoice.TypeCreditNote:
			if p.XMLName.Local != "CreditNote" || p.CNType != "381" || p.Billing != s.Doc.Corrects.Number || len(p.CNLines) != len(s.Doc.Lines) {
				t.Errorf("%s: %+v", s.Name, p)
			}
		case invoice.TypeSelfBilledCreditNote:
			if p.XMLName.Local != "CreditNote" || p.CNType != "261" || p.Customiz != ubl.SelfBillingCustomizationID || p.Billing != s.Doc.Corrects.Number {
				t.Errorf("%s: %+v", s.Name, p)
			}
		case invoice.TypeSelfBilled:
			if p.XMLName.Local != "Invoice" || p.Type != "389" || p.Customiz != ubl.SelfBillingCustomizationID || p.Profile != ubl.SelfBillingProfileID {
				t.Errorf("%s: %+v", s.Name, p)
			}
		default:
			if p.XMLName.Local != "Invoice" || p.Type != "380" || p.Customiz != ubl.BillingCustomizationID || p.Profile != ubl.BillingProfileID {
				t.Errorf("%s: %+v", s.Name, p)
			}
		}
		if s.Name == "standard" && (p.Payment != "+++123/4567/89002+++" || p.IBAN != "BE68539007547034") {
			t.Errorf("standard payment: %q %q", p.Payment, p.IBAN)
		}
	}
}

// emptyElement names the first element without text nor children, or "".
func emptyElement(b []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(b))
	type open struct {
		name    string
		content bool
	}
	var stack []open
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if len(stack) > 0 {
				stack[len(stack)-1].content = true
			}
			stack = append(stack, open{name: tk.Name.Local})
		case xml.CharData:
			if len(stack) > 0 && len(bytes.TrimSpace(tk)) > 0 {
				stack[len(stack)-1].content = true
			}
		case xml.EndElement:
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if !top.content {
				return top.name
			}
		}
	}
}

func TestNoEmptyElements(t *testing.T) {
	for _, s := range invoicetest.Samples() {
		b, err := ubl.Marshal(&s.Doc)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if e := emptyElement(b); e != "" {
			t.Errorf("%s: empty element %s (Peppol R008)", s.Name, e)
		}
	}
	if e := emptyElement([]byte("<a><b>x</b><c></c></a>")); e != "c" {
		t.Errorf("emptyElement missed <c></c>: %q", e)
	}
}

func TestMarshalRefuses(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	d.Lines[0].Unit = ""
	if _, err := ubl.Marshal(&d); !errors.Is(err, invoice.ErrInvalid) || !strings.Contains(err.Error(), "lines[0].unit") {
		t.Errorf("invalid document: %v", err)
	}
	d = invoicetest.Samples()[0].Doc
	d.Buyer.EnterpriseNumber, d.Buyer.VATNumber = "", ""
	if _, err := ubl.Marshal(&d); !errors.Is(err, ubl.ErrNoPeppolAddress) {
		t.Errorf("consumer: %v; want ErrNoPeppolAddress", err)
	}
}

// The property: for random documents, the XML's figures (every line
// amount, each VAT breakdown, every total) equal the model's Totals.
func TestXMLTotalsProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		d := invoicetest.Random(rt)
		if rapid.Bool().Draw(rt, "credit note") {
			d.Type = invoice.TypeCreditNote
			d.Corrects = &invoice.Reference{Number: "SWC-2025-000099"}
		}
		b, err := ubl.Marshal(&d)
		if err != nil {
			rt.Fatalf("marshal: %v", err)
		}
		if e := emptyElement(b); e != "" {
			rt.Fatalf("empty element %s (Peppol R008)", e)
		}
		p := parse(rt, b)
		want := d.Totals()
		lines := p.Lines
		if d.IsCreditNote() {
			lines = p.CNLines
		}
		if len(lines) != len(want.LineNetCents) {
			rt.Fatalf("%d lines in XML; want %d", len(lines), len(want.LineNetCents))
		}
		for i, l := range lines {
			if got := cents(rt, l.Amount); got != want.LineNetCents[i] {
				rt.Fatalf("line %d: XML %d; model %d", i, got, want.LineNetCents[i])
			}
		}
		if len(p.Tax.Subtotals) != len(want.Breakdown) {
			rt.Fatalf("%d breakdowns; want %d", len(p.Tax.Subtotals), len(want.Breakdown))
		}
		for i, s := range p.Tax.Subtotals {
			w := want.Breakdown[i]
			if cents(rt, s.Taxable) != w.TaxableCents || cents(rt, s.Amount) != w.VATCents || s.Cat != string(w.VAT.Category) {
				rt.Fatalf("breakdown %d: XML %+v; model %+v", i, s, w)
			}
		}
		allow := int64(0)
		if p.Total.Allowances != "" {
			allow = cents(rt, p.Total.Allowances)
		}
		if cents(rt, p.Total.Lines) != want.LineExtensionCents || cents(rt, p.Total.Exclusive) != want.TaxExclusiveCents ||
			cents(rt, p.Total.Inclusive) != want.TaxInclusiveCents || cents(rt, p.Total.Payable) != want.PayableCents ||
			cents(rt, p.Tax.Amount) != want.VATCents || allow != want.AllowanceCents {
			rt.Fatalf("totals: XML %+v %+v; model %+v", p.Total, p.Tax.Amount, want)
		}
	})
}

func TestFileName(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	d.Number = "SWC/2026 001"
	if got := ubl.FileName(&d); got != "SWC_2026_001.xml" {
		t.Errorf("FileName = %q", got)
	}
}
