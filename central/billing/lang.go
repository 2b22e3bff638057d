package billing

import (
	"time"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/credit"
	"github.com/smartworkcenters/swc/central/web/i18n"
)

// CatalogLang is the catalog's language of a party's Details.Lang (fr, nl
// or en, as invoicepdf.Lang; empty: fr, as the PDF and the members'
// e-mails).
func CatalogLang(lang string) i18n.Lang {
	switch lang {
	case "nl":
		return i18n.Dutch
	case "en":
		return i18n.English
	}
	return i18n.French
}

// words writes a document's lines and notes in one language, from the
// catalog's keys billing.doc.* (the words on a document a person reads;
// an issued document keeps the words it was issued with).
type words struct{ i18n.Locale }

func newWords(cat *i18n.Catalog, lang string) words { return words{cat.Locale(CatalogLang(lang))} }

// month is a period in words: "novembre 2026", as the billing pages.
func (w words) month(p credit.Period) string { return w.Month(p.Start(time.UTC)) }

// vat writes the exemption text of v in the language, by its VATEX code;
// the code itself stays as it is (the UBL's BT-121, printed beside).
func (w words) vat(v invoice.VAT) invoice.VAT {
	if key, ok := vatexKeys[v.ExemptionReasonCode]; ok {
		v.ExemptionReason = w.T(key)
	}
	return v
}

// finish writes the exemption texts of d's lines in the language.
func (w words) finish(d *invoice.Document) {
	for i := range d.Lines {
		d.Lines[i].VAT = w.vat(d.Lines[i].VAT)
	}
}

// vatexKeys are the catalog's keys of the exemption texts of
// VATExemptions and of the reverse charge (whose English texts are
// VATExemptions' Reason and ReverseChargeReason).
var vatexKeys = map[string]string{
	"VATEX-EU-151-1A": "billing.doc.vatex_151_1a",
	"VATEX-EU-151-1B": "billing.doc.vatex_151_1b",
	"VATEX-EU-135-1":  "billing.doc.vatex_135_1",
	"VATEX-EU-132":    "billing.doc.vatex_132",
	"VATEX-EU-AE":     "billing.doc.vatex_ae",
}
