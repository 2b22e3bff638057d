package ubl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/smartworkcenters/swc/central/billing/invoice"
)

// Identifiers of the Peppol specifications the documents follow.
const (
	BillingCustomizationID     = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
	BillingProfileID           = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
	SelfBillingCustomizationID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:selfbilling:3.0"
	SelfBillingProfileID       = "urn:fdc:peppol.eu:2017:poacc:selfbilling:01:1.0"
)

// Namespaces of UBL 2.1.
const (
	nsInvoice    = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
	nsCreditNote = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
	nsCAC        = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	nsCBC        = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
)

// ErrNoPeppolAddress is returned for a buyer without a Peppol electronic
// address (no enterprise number, no VAT number of a Peppol VAT scheme, no
// explicit endpoint): a consumer, whose invoice is a PDF only.
var ErrNoPeppolAddress = errors.New("buyer has no Peppol address (enterprise number, VAT number or endpoint)")

// Marshal validates d and writes it as UBL 2.1 XML (with the XML
// declaration, indented). It refuses a document that does not Validate.
func Marshal(d *invoice.Document) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("ubl: %w", err)
	}
	if s, _ := d.Buyer.ElectronicAddress(); s == "" {
		return nil, fmt.Errorf("ubl: %s: %w", d.Number, ErrNoPeppolAddress)
	}
	root := build(d)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("ubl: encode %s: %w", d.Number, err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// FileName is the conventional name of a document's XML file.
func FileName(d *invoice.Document) string {
	return safeName(d.Number) + ".xml"
}

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
