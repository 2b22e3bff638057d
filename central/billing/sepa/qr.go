package sepa

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// ErrQR is matched (errors.Is) by every error of QRPayload.
var ErrQR = errors.New("invalid SEPA QR data")

// MaxQRPayload is the EPC069-12 limit on the payload, in bytes.
const MaxQRPayload = 331

// QR is what an EPC069-12 code asks the payer's bank to pay.
type QR struct {
	// BIC of the beneficiary's bank, optional (version 002, within the EEA).
	BIC  string
	Name string
	IBAN string
	// AmountCents is 0 for "let the payer type it", else 1 to 99,999,999,999.
	AmountCents int64
	// Purpose is an ISO 20022 purpose code of 4 letters, optional.
	Purpose string
	// Communication (structured) or Text (free, at most 140) is the
	// remittance information, not both.
	Communication bank.Communication
	Text          string
}

// QRPayload is the EPC069-12 version 002 text of q, UTF-8, lines separated
// by LF, trailing empty lines dropped.
func QRPayload(q QR) (string, error) {
	bad := func(field, format string, args ...any) (string, error) {
		return "", fmt.Errorf("%w: %s: %s", ErrQR, field, fmt.Sprintf(format, args...))
	}
	iban, err := bank.ParseIBAN(q.IBAN)
	if err != nil {
		return bad("iban", "%v", err)
	}
	bic := ""
	if q.BIC != "" {
		if bic, err = bank.ParseBIC(q.BIC); err != nil {
			return bad("bic", "%v", err)
		}
	}
	name := strings.TrimSpace(q.Name)
	switch {
	case name == "":
		return bad("name", "required")
	case len([]rune(name)) > 70:
		name = string([]rune(name)[:70])
	case strings.ContainsAny(name, "\r\n"):
		return bad("name", "contains a line break")
	}
	amount := ""
	if q.AmountCents != 0 {
		if q.AmountCents < 1 || q.AmountCents > maxAmountCents {
			return bad("amount", "%d cents; want 1 to %d", q.AmountCents, int64(maxAmountCents))
		}
		amount = "EUR" + formatCents(q.AmountCents)
	}
	if q.Purpose != "" && (len(q.Purpose) != 4 || strings.ToUpper(q.Purpose) != q.Purpose || latin(q.Purpose, 4) != q.Purpose) {
		return bad("purpose", "%q; want 4 upper-case letters", q.Purpose)
	}
	if !q.Communication.IsZero() && q.Text != "" {
		return bad("text", "give a structured communication or a text, not both")
	}
	if len([]rune(q.Text)) > 140 || strings.ContainsAny(q.Text, "\r\n") {
		return bad("text", "at most 140 characters on one line")
	}
	lines := []string{"BCD", "002", "1", "SCT", bic, name, string(iban), amount, q.Purpose, q.Communication.Digits(), q.Text}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	p := strings.Join(lines, "\n")
	if len(p) > MaxQRPayload {
		return bad("text", "payload of %d bytes; at most %d", len(p), MaxQRPayload)
	}
	return p, nil
}

// InvoiceQR is the QR payload asking to pay document d: its amount due to
// the seller's account, with its structured communication, or else its
// number as text. It returns "" and no error when there is nothing to pay
// by transfer (a credit note, an amount due of zero or less, no payment
// details).
func InvoiceQR(d *invoice.Document) (string, error) {
	p := d.Payment
	due := d.Totals().PayableCents
	if p == nil || d.IsCreditNote() || due <= 0 {
		return "", nil
	}
	q := QR{BIC: p.BIC, Name: p.AccountName, IBAN: p.IBAN, AmountCents: due, Communication: p.Communication}
	if q.Name == "" {
		q.Name = d.Seller.Name
	}
	if p.Communication.IsZero() {
		q.Text = d.Number
	}
	return QRPayload(q)
}
