package billing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/ubl"
	"github.com/smartworkcenters/swc/central/credit"
)

// Audit object kinds of billing writes.
const (
	ObjectPrice    = "price"
	ObjectDetails  = "billing_details"
	ObjectDocument = "invoice"
)

// maxSeq is the largest number of documents per issuer and year: the
// structured communication holds the year's last two digits and eight
// digits of number.
const maxSeq = 99_999_999

// Issued is a document as issued: numbered, rendered, never changed.
type Issued struct {
	Issuer   string           `json:"issuer"`
	Number   string           `json:"number"`
	Year     int              `json:"year"`
	Seq      int64            `json:"seq"`
	Type     invoice.TypeCode `json:"type"`
	Period   credit.Period    `json:"period"`
	Subject  string           `json:"subject"`
	Purpose  string           `json:"purpose"`
	MemberID string           `json:"member_id,omitempty"`
	CenterID string           `json:"center_id,omitempty"`
	// Corrects is the number of the document this one corrects.
	Corrects     string `json:"corrects,omitempty"`
	IssuedMs     int64  `json:"issued_ms"`
	PayableCents int64  `json:"payable_cents"`
	Currency     string `json:"currency"`
	// Model is the document as JSON (EncodeDocument): the PDF is rendered
	// from it, byte for byte the same each time.
	Model []byte `json:"-"`
	// UBL is the Peppol XML, nil for a buyer without a Peppol address.
	UBL []byte `json:"-"`
	// Digest is the SHA-256 of Model and UBL (hex): what was issued.
	Digest string `json:"digest"`
	// Doc is Model decoded (filled by the store's reads).
	Doc invoice.Document `json:"-"`
}

// Number is the number of an issuer's seq-th document of year.
func Number(issuer string, year int, seq int64) string {
	return fmt.Sprintf("%s-%d-%06d", strings.ToUpper(issuer), year, seq)
}

// Communication is the structured communication of a document: the
// year's last two digits then the number on eight digits, unique per
// issuer (each issuer has its own account).
func Communication(year int, seq int64) (bank.Communication, error) {
	if seq <= 0 || seq > maxSeq {
		return bank.Communication{}, fmt.Errorf("document number %d of %d: want 1 to %d", seq, year, maxSeq)
	}
	return bank.NewCommunication(int64(year%100)*100_000_000 + seq)
}

// storedDocument is the JSON of a document: the model with its
// communication as digits (bank.Communication keeps them unexported).
type storedDocument struct {
	Document      invoice.Document `json:"document"`
	Communication string           `json:"communication,omitempty"`
}

// EncodeDocument writes d as JSON (deterministically: the same document
// gives the same bytes).
func EncodeDocument(d *invoice.Document) ([]byte, error) {
	s := storedDocument{Document: *d}
	if d.Payment != nil {
		s.Communication = d.Payment.Communication.Digits()
	}
	return json.Marshal(s)
}

// DecodeDocument reads what EncodeDocument wrote.
func DecodeDocument(b []byte) (invoice.Document, error) {
	var s storedDocument
	if err := json.Unmarshal(b, &s); err != nil {
		return invoice.Document{}, fmt.Errorf("decode document: %w", err)
	}
	if s.Communication != "" {
		c, err := bank.ParseCommunication(s.Communication)
		if err != nil {
			return invoice.Document{}, fmt.Errorf("decode document: %w", err)
		}
		if s.Document.Payment == nil {
			return invoice.Document{}, errors.New("decode document: a communication without payment")
		}
		s.Document.Payment.Communication = c
	}
	return s.Document, nil
}

// Finish numbers a draft as the issuer's seq-th document of the year of
// its issue date, gives it its structured communication, validates it and
// renders it. issuedMs is the time of issue.
func Finish(dr Draft, seq int64, issuedMs int64) (Issued, error) {
	d := dr.Doc
	year := d.IssueDate.Year()
	d.Number = Number(dr.Issuer, year, seq)
	if d.Payment != nil {
		p := *d.Payment
		c, err := Communication(year, seq)
		if err != nil {
			return Issued{}, err
		}
		p.Communication = c
		d.Payment = &p
	}
	if err := d.Validate(); err != nil {
		return Issued{}, fmt.Errorf("%s %s of %s: %w", dr.Purpose, dr.Subject, dr.Period, err)
	}
	model, err := EncodeDocument(&d)
	if err != nil {
		return Issued{}, err
	}
	var x []byte
	if s, _ := d.Buyer.ElectronicAddress(); s != "" {
		if x, err = ubl.Marshal(&d); err != nil {
			return Issued{}, err
		}
	}
	h := sha256.New()
	h.Write(model)
	h.Write(x)
	is := Issued{Issuer: dr.Issuer, Number: d.Number, Year: year, Seq: seq, Type: d.Type, Period: dr.Period,
		Subject: dr.Subject, Purpose: dr.Purpose, MemberID: dr.MemberID, CenterID: dr.CenterID,
		IssuedMs: issuedMs, PayableCents: d.Totals().PayableCents, Currency: d.CurrencyCode(),
		Model: model, UBL: x, Digest: hex.EncodeToString(h.Sum(nil)), Doc: d}
	if d.Corrects != nil {
		is.Corrects = d.Corrects.Number
	}
	return is, nil
}

// Check verifies that the stored bytes are what was issued: the digest
// matches and the model decodes.
func (is *Issued) Check() error {
	h := sha256.New()
	h.Write(is.Model)
	h.Write(is.UBL)
	if got := hex.EncodeToString(h.Sum(nil)); got != is.Digest {
		return fmt.Errorf("document %s: digest %s, stored %s", is.Number, got, is.Digest)
	}
	d, err := DecodeDocument(is.Model)
	if err != nil {
		return fmt.Errorf("document %s: %w", is.Number, err)
	}
	again, err := EncodeDocument(&d)
	if err != nil || !bytes.Equal(again, is.Model) {
		return fmt.Errorf("document %s: the model does not read back the same", is.Number)
	}
	is.Doc = d
	return nil
}

// DocumentFilter selects issued documents; empty fields select all.
type DocumentFilter struct {
	Period   credit.Period
	Issuer   string
	MemberID string
	CenterID string
	// Involving selects the documents of a center (what its manager may
	// read): issued by it, or self-billed in its name.
	Involving string
	// Corrects selects the documents that correct the one of this number.
	Corrects string
}
