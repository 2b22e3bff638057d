package billing

import (
	"encoding/csv"
	"fmt"
	"io"
	"time"

	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// csvHeader is the header of WriteCSV.
var csvHeader = []string{"issuer", "number", "type", "issue_date", "due_date", "period", "seller", "seller_vat", "buyer", "buyer_vat",
	"buyer_enterprise_number", "member_id", "center_id", "corrects", "currency", "net", "vat", "payable", "communication", "digest"}

// WriteCSV writes documents for accounting software: one row per
// document, amounts with two decimals and a point (credit notes positive,
// their type says they credit), dates as YYYY-MM-DD.
func WriteCSV(w io.Writer, docs []Issued) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.DateOnly)
	}
	for i := range docs {
		d := &docs[i]
		t := d.Doc.Totals()
		comm := ""
		if d.Doc.Payment != nil && !d.Doc.Payment.Communication.IsZero() {
			comm = d.Doc.Payment.Communication.String()
		}
		row := []string{d.Issuer, d.Number, string(d.Type), day(d.Doc.IssueDate), day(d.Doc.DueDate), d.Period.String(),
			d.Doc.Seller.Name, d.Doc.Seller.VATNumber, d.Doc.Buyer.Name, d.Doc.Buyer.VATNumber, d.Doc.Buyer.EnterpriseNumber,
			d.MemberID, d.CenterID, d.Corrects, d.Currency, invoice.FormatCents(t.TaxExclusiveCents), invoice.FormatCents(t.VATCents),
			invoice.FormatCents(t.PayableCents), comm, d.Digest}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("csv %s: %w", d.Number, err)
		}
	}
	cw.Flush()
	return cw.Error()
}
