package invoicepdf

import (
	"fmt"
	"strings"
)

// Lang is a language a document is rendered in.
type Lang string

// The languages of the network (PRODUCT.md: Belgium, FR and NL, and EN).
const (
	French  Lang = "fr"
	Dutch   Lang = "nl"
	English Lang = "en"
)

// ParseLang reads "fr", "nl", "en" or a tag starting with one of them
// ("fr-BE", "nl-BE", "en-GB").
func ParseLang(s string) (Lang, error) {
	l := strings.ToLower(s)
	if i := strings.IndexAny(l, "-_"); i >= 0 {
		l = l[:i]
	}
	switch Lang(l) {
	case French, Dutch, English:
		return Lang(l), nil
	}
	return "", fmt.Errorf("invoicepdf: language %q; want fr, nl or en", s)
}

// labels are the words printed on a document, by key and language
// (read-only).
var labels = map[string][3]string{ // en, fr, nl
	"380":            {"Invoice", "Facture", "Factuur"},
	"381":            {"Credit note", "Note de crédit", "Creditnota"},
	"389":            {"Self-billed invoice", "Autofacture", "Zelffactuur"},
	"261":            {"Self-billed credit note", "Note de crédit d'autofacturation", "Creditnota bij zelffacturering"},
	"self_billed":    {"Self-billing: issued by the buyer in the name and on behalf of the seller.", "Autofacturation : émise par le client au nom et pour le compte du fournisseur.", "Zelffacturering: uitgereikt door de afnemer in naam en voor rekening van de leverancier."},
	"number":         {"Number", "Numéro", "Nummer"},
	"issue_date":     {"Date", "Date", "Datum"},
	"due_date":       {"Due date", "Échéance", "Vervaldatum"},
	"period":         {"Period", "Période", "Periode"},
	"your_reference": {"Your reference", "Votre référence", "Uw referentie"},
	"corrects":       {"Corrects invoice", "Corrige la facture", "Corrigeert factuur"},
	"of":             {"of", "du", "van"},
	"seller":         {"From", "Fournisseur", "Leverancier"},
	"buyer":          {"To", "Client", "Klant"},
	"vat_number":     {"VAT no.", "N° TVA", "Btw-nr."},
	"enterprise":     {"Enterprise no.", "N° d'entreprise", "Ondernemingsnr."},
	"description":    {"Description", "Description", "Omschrijving"},
	"quantity":       {"Quantity", "Quantité", "Hoeveelheid"},
	"unit_price":     {"Unit price", "Prix unitaire", "Eenheidsprijs"},
	"vat_rate":       {"VAT", "TVA", "Btw"},
	"amount":         {"Amount", "Montant", "Bedrag"},
	"allowance":      {"Discount", "Remise", "Korting"},
	"vat_breakdown":  {"VAT breakdown", "Récapitulatif TVA", "Btw-overzicht"},
	"taxable":        {"Taxable amount", "Base imposable", "Maatstaf van heffing"},
	"vat_amount":     {"VAT", "TVA", "Btw"},
	"total_lines":    {"Total of lines", "Total des lignes", "Totaal van de lijnen"},
	"total_excl":     {"Total excl. VAT", "Total HTVA", "Totaal excl. btw"},
	"total_vat":      {"Total VAT", "Total TVA", "Totaal btw"},
	"total_incl":     {"Total incl. VAT", "Total TVAC", "Totaal incl. btw"},
	"amount_due":     {"Amount due", "Montant à payer", "Te betalen"},
	"credited":       {"Amount credited", "Montant crédité", "Gecrediteerd bedrag"},
	"payment":        {"Payment", "Paiement", "Betaling"},
	"pay_to":         {"Pay to", "À verser sur", "Te storten op"},
	"communication":  {"Structured communication", "Communication structurée", "Gestructureerde mededeling"},
	"scan":           {"Scan with your banking app", "Scannez avec votre app bancaire", "Scan met je bankapp"},
	"terms":          {"Terms", "Conditions", "Voorwaarden"},
	"terms_days":     {"Payment within {n} days", "Paiement à {n} jours", "Betaling binnen {n} dagen"},
	"colon":          {": ", " : ", ": "},
	"page":           {"Page", "Page", "Pagina"},
	"per":            {"per", "par", "per"},
	"cat_S":          {"standard rate", "taux normal", "normaal tarief"},
	"cat_Z":          {"zero rated", "taux zéro", "nultarief"},
	"cat_E":          {"exempt", "exonéré", "vrijgesteld"},
	"cat_AE":         {"reverse charge", "autoliquidation", "verlegging van heffing"},
	"cat_K":          {"intra-community supply", "livraison intracommunautaire", "intracommunautaire levering"},
	"cat_O":          {"outside the scope of VAT", "hors champ de la TVA", "buiten het toepassingsgebied van de btw"},
	"unit_HUR":       {"h", "h", "u"},
	"unit_MIN":       {"min", "min", "min"},
	"unit_DAY":       {"day", "jour", "dag"},
	"unit_MON":       {"month", "mois", "maand"},
	"unit_C62":       {"", "", ""},
	// The legal mention of a VAT exemption reason code (VATEX), printed
	// in the document's language instead of the document's own text.
	"vatex_VATEX-EU-AE": {"Reverse charge: VAT due by the customer (Art. 196 Directive 2006/112/EC)",
		"Autoliquidation : TVA due par le client (art. 196 directive 2006/112/CE)",
		"Btw verlegd: btw verschuldigd door de afnemer (art. 196 richtlijn 2006/112/EG)"},
	"vatex_VATEX-EU-IC": {"Intra-community supply, exempt (Art. 138 Directive 2006/112/EC)",
		"Livraison intracommunautaire exonérée (art. 138 directive 2006/112/CE)",
		"Vrijgestelde intracommunautaire levering (art. 138 richtlijn 2006/112/EG)"},
	"vatex_VATEX-EU-O": {"Not subject to VAT", "Non soumis à la TVA", "Niet onderworpen aan btw"},
	// Countries of the network's parties by ISO 3166 code; others print
	// as their code.
	"country_BE": {"Belgium", "Belgique", "België"},
	"country_NL": {"Netherlands", "Pays-Bas", "Nederland"},
	"country_FR": {"France", "France", "Frankrijk"},
	"country_LU": {"Luxembourg", "Luxembourg", "Luxemburg"},
	"country_DE": {"Germany", "Allemagne", "Duitsland"},
}

// label is the word for key in lang; a missing key is printed as itself
// (a test checks that every key used exists).
func label(lang Lang, key string) string {
	l, ok := labels[key]
	if !ok {
		return key
	}
	switch lang {
	case French:
		return l[1]
	case Dutch:
		return l[2]
	}
	return l[0]
}
