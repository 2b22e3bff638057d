// Package invoicepdf renders an invoice.Document as a PDF in French, Dutch
// or English: A4, type of 10 pt and more so that it reads on a phone,
// seller and buyer, lines, the VAT breakdown with its exemption reasons,
// the totals, and the payment block with the IBAN, the Belgian structured
// communication in large type and the EPC069-12 "SEPA QR" code a banking
// app scans.
//
// It uses codeberg.org/go-pdf/fpdf (the maintained continuation of
// jung-kurt/gofpdf) with its built-in Helvetica, so no font file ships:
// text is written in Windows-1252, which covers French, Dutch, English and
// German; a character outside it is written without its accent, or as "?".
// The QR code comes from github.com/boombuler/barcode, already in the
// module graph through fpdf, at error-correction level M as EPC069-12 asks.
//
// Every table cell wraps inside its column, amounts and quantities as a
// whole, so that no text runs into the next one; a payment block pushed
// to a page of its own repeats the amount due. Country names, the legal
// mention of a VAT exemption code (VATEX) and payment terms in days are
// printed in the document's language; descriptions and notes as the
// document holds them.
//
// The labels are this package's own small table (labels.go): the web
// layer's catalog (central/web/i18n) has no billing vocabulary, and a PDF
// must not change when the site's wording does. The output is reproducible:
// the PDF's dates are the document's issue date, so rendering one document
// twice gives the same bytes.
package invoicepdf
