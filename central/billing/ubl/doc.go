// Package ubl writes an invoice.Document as a Peppol BIS Billing 3.0
// document in OASIS UBL 2.1 XML: an Invoice for an invoice (380), a
// CreditNote for a credit note (381), and, for a self-billed invoice (389)
// and a self-billed credit note (261), an Invoice or a CreditNote under
// Peppol BIS Self-Billing 3.0, since Peppol BIS Billing admits neither
// type.
//
// The amounts are the document's Totals (see invoice.RoundingRule), written
// with two decimals; prices keep their cents and a line priced per base
// quantity (7 MIN at a price per 60 MIN) carries cbc:BaseQuantity. Parties
// get their Peppol electronic address (cbc:EndpointID) from
// invoice.Party.ElectronicAddress: scheme 0208 for a Belgian enterprise
// number, a VAT scheme (9925 for Belgium), or EM for an e-mail address.
// Payment is a SEPA credit transfer (code 58) to the seller's IBAN, with
// the structured communication as payment id (BT-83).
//
// The tests validate every sample document against the UBL 2.1 schema
// (xmllint) and the EN 16931 and Peppol Schematron rules (Saxon-HE); see
// testdata/README.md.
package ubl
