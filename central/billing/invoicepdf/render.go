package invoicepdf

import (
	"bytes"
	"fmt"
	"image/png"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"
	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"golang.org/x/text/unicode/norm"

	"github.com/smartworkcenters/swc/central/billing/bank"
	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/sepa"
)

// Page geometry, in millimetres, and type sizes, in points.
const (
	margin    = 15.0
	pageWidth = 210.0
	width     = pageWidth - 2*margin
	body      = 11.0
	small     = 10.0
	heading   = 13.0
	title     = 20.0
	lineH     = 5.6
	qrSize    = 36.0
)

// Render validates d and writes it as a PDF in lang to w.
func Render(w io.Writer, d *invoice.Document, lang Lang) error {
	if _, err := ParseLang(string(lang)); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("invoicepdf: %w", err)
	}
	r := &renderer{d: d, lang: lang, totals: d.Totals()}
	if err := r.render(); err != nil {
		return fmt.Errorf("invoicepdf: %s: %w", d.Number, err)
	}
	if err := r.pdf.Output(w); err != nil {
		return fmt.Errorf("invoicepdf: %s: %w", d.Number, err)
	}
	return nil
}

// FileName is the conventional name of a document's PDF.
func FileName(d *invoice.Document, lang Lang) string {
	b := []byte(d.Number)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b) + "-" + string(lang) + ".pdf"
}

type renderer struct {
	d      *invoice.Document
	lang   Lang
	totals invoice.Totals
	pdf    *fpdf.Fpdf
	cp     func(string) string
}

// newTranslator is the Windows-1252 translator of the core fonts.
func newTranslator() func(string) string {
	return fpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("")
}

func (r *renderer) l(key string) string { return label(r.lang, key) }

// txt converts UTF-8 to the Windows-1252 of the core fonts; a character
// outside it loses its accent, or becomes "?".
func (r *renderer) txt(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c < 0x80 {
			b.WriteRune(c)
			continue
		}
		if t := r.cp(string(c)); t != "." {
			b.WriteString(t)
			continue
		}
		base := '?'
		for _, d := range norm.NFD.String(string(c)) {
			if d < 0x80 && !unicode.Is(unicode.Mn, d) {
				base = d
				break
			}
		}
		b.WriteRune(base)
	}
	return b.String()
}

func (r *renderer) font(style string, size float64) { r.pdf.SetFont("Helvetica", style, size) }

func (r *renderer) render() error {
	d := r.d
	p := fpdf.New("P", "mm", "A4", "")
	r.pdf = p
	r.cp = p.UnicodeTranslatorFromDescriptor("")
	if err := p.Error(); err != nil {
		return err
	}
	at := d.IssueDate
	p.SetCreationDate(at)
	p.SetModificationDate(at)
	p.SetCatalogSort(true)
	p.SetProducer("Smart Work Centers", false)
	p.SetTitle(r.txt(r.l(string(d.Type))+" "+d.Number), false)
	p.SetAuthor(r.txt(d.Seller.Name), false)
	p.SetLang(string(r.lang))
	p.SetMargins(margin, margin, margin)
	p.SetAutoPageBreak(true, margin+8)
	p.AliasNbPages("{nb}")
	p.SetFooterFunc(func() {
		p.SetY(-margin - 2)
		r.font("", small)
		p.SetTextColor(90, 90, 90)
		p.CellFormat(width/2, lineH, r.txt(d.Number), "", 0, "L", false, 0, "")
		p.CellFormat(width/2, lineH, r.txt(fmt.Sprintf("%s %d/{nb}", r.l("page"), p.PageNo())), "", 0, "R", false, 0, "")
		p.SetTextColor(0, 0, 0)
	})
	p.AddPage()
	r.header()
	r.parties()
	r.lines()
	r.vat()
	r.totalsBlock()
	if d.Payment != nil && !d.IsCreditNote() { // a credit note asks nobody to pay
		if err := r.payment(); err != nil {
			return err
		}
	}
	return p.Error()
}

func (r *renderer) header() {
	d, p := r.d, r.pdf
	r.font("B", title)
	p.CellFormat(width, 10, r.txt(r.l(string(d.Type))), "", 1, "L", false, 0, "")
	r.font("", body)
	row := func(k, v string) {
		if v == "" {
			return
		}
		r.font("", body)
		p.CellFormat(42, lineH, r.txt(r.l(k)), "", 0, "L", false, 0, "")
		r.font("B", body)
		p.MultiCell(width-42, lineH, r.txt(v), "", "L", false)
	}
	row("number", d.Number)
	row("issue_date", r.date(d.IssueDate))
	if !d.DueDate.IsZero() && !d.IsCreditNote() {
		row("due_date", r.date(d.DueDate))
	}
	if !d.PeriodStart.IsZero() {
		row("period", r.date(d.PeriodStart)+" – "+r.date(d.PeriodEnd))
	}
	row("your_reference", d.BuyerReference)
	if c := d.Corrects; c != nil {
		v := c.Number
		if !c.IssueDate.IsZero() {
			v += " " + r.l("of") + " " + r.date(c.IssueDate)
		}
		row("corrects", v)
	}
	if d.IsSelfBilled() {
		r.font("I", small)
		p.MultiCell(width, lineH, r.txt(r.l("self_billed")), "", "L", false)
	}
	if d.Note != "" {
		r.font("", body)
		p.MultiCell(width, lineH, r.txt(d.Note), "", "L", false)
	}
	p.Ln(3)
}

func (r *renderer) parties() {
	p := r.pdf
	col := (width - 6) / 2
	y := p.GetY()
	block := func(x float64, key string, party invoice.Party) float64 {
		p.SetXY(x, y)
		r.font("B", small)
		p.SetTextColor(90, 90, 90)
		p.CellFormat(col, lineH, r.txt(strings.ToUpper(r.l(key))), "", 2, "L", false, 0, "")
		p.SetTextColor(0, 0, 0)
		r.font("B", body)
		p.MultiCell(col, lineH, r.txt(party.Name), "", "L", false)
		r.font("", body)
		a := party.Address
		for _, s := range []string{a.Street, a.AdditionalStreet, strings.TrimSpace(a.PostalCode + " " + a.City), r.known("country_", a.Country)} {
			if s != "" {
				p.SetX(x)
				p.MultiCell(col, lineH, r.txt(s), "", "L", false)
			}
		}
		for _, kv := range [][2]string{{"vat_number", party.VATNumber}, {"enterprise", enterprise(party.EnterpriseNumber)}, {"", party.Email}} {
			if kv[1] == "" {
				continue
			}
			p.SetX(x)
			s := kv[1]
			if kv[0] != "" {
				s = r.l(kv[0]) + " " + s
			}
			p.MultiCell(col, lineH, r.txt(s), "", "L", false)
		}
		return p.GetY()
	}
	y1 := block(margin, "seller", r.d.Seller)
	y2 := block(margin+col+6, "buyer", r.d.Buyer)
	p.SetXY(margin, max(y1, y2)+5)
}

// enterprise prints a Belgian enterprise number as 0123.456.789.
func enterprise(n string) string {
	if len(n) != 10 {
		return n
	}
	return n[:4] + "." + n[4:7] + "." + n[7:]
}

// Columns of the lines table.
var cols = []float64{width - 28 - 32 - 16 - 30, 28, 32, 16, 30}

func (r *renderer) lines() {
	d, p := r.d, r.pdf
	r.tableHead([]string{r.l("description"), r.l("quantity"), r.l("unit_price"), r.l("vat_rate"), r.l("amount")})
	r.font("", body)
	for i, l := range d.Lines {
		price := nb(r.money(l.UnitPriceCents))
		if l.BaseQuantity != 0 && l.BaseQuantity != invoice.Units(1) {
			price += " / " + nb(r.qty(l.BaseQuantity)+" "+r.unit(l.Unit))
		}
		r.row([]string{l.Description, nb(strings.TrimSpace(r.qty(l.Quantity) + " " + r.unit(l.Unit))), price, nb(r.rate(l.VAT)), nb(r.money(r.totals.LineNetCents[i]))})
	}
	for _, a := range d.Allowances {
		r.row([]string{r.l("allowance") + r.l("colon") + a.Reason, "", "", nb(r.rate(a.VAT)), nb(r.money(-a.AmountCents))})
	}
	p.Ln(4)
}

func (r *renderer) tableHead(heads []string) {
	p := r.pdf
	r.font("B", small)
	p.SetFillColor(235, 235, 235)
	for i, h := range heads {
		align := "R"
		if i == 0 {
			align = "L"
		}
		p.CellFormat(cols[i], 7, r.txt(h), "B", 0, align, true, 0, "")
	}
	p.Ln(-1)
}

// row prints one table row. Every cell wraps within its column (a long
// description, a unit price such as "€ 1.234,56 / 60 min"), so that no
// text runs into the next column; the row is as high as its tallest cell.
func (r *renderer) row(cells []string) {
	p := r.pdf
	r.font("", body)
	lines := make([][]string, len(cells))
	n := 1
	for i, c := range cells {
		lines[i] = r.wrap(r.txt(c), cols[i]-2*cellMargin)
		n = max(n, len(lines[i]))
	}
	h := float64(n)*lineH + 1.5
	_, pageH := p.GetPageSize()
	if p.GetY()+h > pageH-margin-10 {
		p.AddPage()
	}
	x, y := p.GetX(), p.GetY()
	cx := x
	for i := range cells {
		align := "R"
		if i == 0 {
			align = "L"
		}
		p.SetXY(cx, y)
		p.MultiCell(cols[i], lineH, strings.Join(lines[i], "\n"), "", align, false)
		cx += cols[i]
	}
	p.SetXY(x, y+h)
	p.SetDrawColor(220, 220, 220)
	p.Line(margin, y+h-0.5, margin+width, y+h-0.5)
	p.SetDrawColor(0, 0, 0)
}

// nb joins s with no-break spaces: an amount or a quantity with its unit
// wraps as a whole.
func nb(s string) string { return strings.ReplaceAll(s, " ", "\u00a0") }

// cellMargin is fpdf's default cell margin (1 mm on each side).
const cellMargin = 1.0

// wrap splits the Windows-1252 text s into lines no wider than w in the
// current font: at spaces, and inside a word only when the word alone is
// wider than w.
func (r *renderer) wrap(s string, w float64) []string {
	p := r.pdf
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		try := word
		if line != "" {
			try = line + " " + word
		}
		if p.GetStringWidth(try) <= w {
			line = try
			continue
		}
		if line != "" {
			out = append(out, line)
		}
		line = word
		for p.GetStringWidth(line) > w && len(line) > 1 {
			cut := len(line) - 1
			for cut > 1 && p.GetStringWidth(line[:cut]) > w {
				cut--
			}
			out = append(out, line[:cut])
			line = line[cut:]
		}
	}
	if line != "" || len(out) == 0 {
		out = append(out, line)
	}
	return out
}

func (r *renderer) vat() {
	p := r.pdf
	r.font("B", heading)
	p.CellFormat(width, 8, r.txt(r.l("vat_breakdown")), "", 1, "L", false, 0, "")
	w := []float64{width - 70, 35, 35}
	r.font("B", small)
	p.SetFillColor(235, 235, 235)
	p.CellFormat(w[0], 7, "", "B", 0, "L", true, 0, "")
	p.CellFormat(w[1], 7, r.txt(r.l("taxable")), "B", 0, "R", true, 0, "")
	p.CellFormat(w[2], 7, r.txt(r.l("vat_amount")), "B", 1, "R", true, 0, "")
	for _, s := range r.totals.Breakdown {
		r.font("", body)
		name := r.l("cat_" + string(s.VAT.Category))
		if s.VAT.Category != invoice.CategoryOutsideScope {
			name = s.VAT.Rate.String() + " % " + name
		}
		p.CellFormat(w[0], lineH+1, r.txt(name), "", 0, "L", false, 0, "")
		p.CellFormat(w[1], lineH+1, r.txt(r.money(s.TaxableCents)), "", 0, "R", false, 0, "")
		p.CellFormat(w[2], lineH+1, r.txt(r.money(s.VATCents)), "", 1, "R", false, 0, "")
		text := s.VAT.ExemptionReason
		if code := s.VAT.ExemptionReasonCode; code != "" {
			if _, ok := labels["vatex_"+code]; ok {
				text = r.l("vatex_" + code)
			}
		}
		if reason := strings.TrimSpace(strings.Join([]string{text, paren(s.VAT.ExemptionReasonCode)}, " ")); reason != "" {
			r.font("I", small)
			p.MultiCell(width, lineH, r.txt(reason), "", "L", false)
		}
	}
	p.Ln(3)
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}

func (r *renderer) totalsBlock() {
	p, t := r.pdf, r.totals
	lw, vw := 60.0, 40.0
	x := margin + width - lw - vw
	line := func(key string, cents int64, style string, size float64) {
		p.SetX(x)
		r.font(style, size)
		p.CellFormat(lw, lineH+0.6, r.txt(r.l(key)), "", 0, "L", false, 0, "")
		p.CellFormat(vw, lineH+0.6, r.txt(r.money(cents)), "", 1, "R", false, 0, "")
	}
	if t.AllowanceCents != 0 {
		line("total_lines", t.LineExtensionCents, "", body)
		line("allowance", -t.AllowanceCents, "", body)
	}
	line("total_excl", t.TaxExclusiveCents, "", body)
	line("total_vat", t.VATCents, "", body)
	line("total_incl", t.TaxInclusiveCents, "", body)
	due := "amount_due"
	if r.d.IsCreditNote() {
		due = "credited"
	}
	p.SetDrawColor(0, 0, 0)
	p.Line(x, p.GetY()+0.5, margin+width, p.GetY()+0.5)
	p.Ln(1)
	line(due, t.PayableCents, "B", heading+1)
	p.Ln(3)
}

func (r *renderer) payment() error {
	d, p := r.d, r.pdf
	pay := d.Payment
	_, pageH := p.GetPageSize()
	alone := p.GetY()+qrSize+14 > pageH-margin-10 // the block is not split over two pages
	if alone {
		p.AddPage()
	}
	r.font("B", heading)
	p.CellFormat(width, 8, r.txt(r.l("payment")), "", 1, "L", false, 0, "")
	y := p.GetY()
	textW := width - qrSize - 6
	kv := func(k, v string, style string, size float64) {
		r.font("", small)
		p.SetTextColor(90, 90, 90)
		p.CellFormat(textW, lineH, r.txt(r.l(k)), "", 2, "L", false, 0, "")
		p.SetTextColor(0, 0, 0)
		r.font(style, size)
		p.MultiCell(textW, size*0.5, r.txt(v), "", "L", false)
		p.Ln(1)
	}
	holder := pay.AccountName
	if holder == "" {
		holder = d.Seller.Name
	}
	acct := bank.IBAN(pay.IBAN).Printed()
	if pay.BIC != "" {
		acct += "   BIC " + pay.BIC
	}
	if alone { // on a page of its own, the block says how much to pay
		kv("amount_due", r.money(r.totals.PayableCents), "B", body+1)
	}
	kv("pay_to", holder+"\n"+acct, "B", body+1)
	if !pay.Communication.IsZero() {
		kv("communication", pay.Communication.String(), "B", 16)
	}
	if pay.Terms != "" {
		kv("terms", r.terms(pay.Terms), "", body)
	}
	bottom := p.GetY()
	payload, err := sepa.InvoiceQR(d)
	if err != nil {
		return err
	}
	if payload != "" {
		if err := r.qr(payload, margin+width-qrSize, y); err != nil {
			return err
		}
		r.font("", small)
		p.SetXY(margin+width-qrSize-4, y+qrSize+1)
		p.MultiCell(qrSize+4, lineH-1, r.txt(r.l("scan")), "", "C", false)
		bottom = max(bottom, p.GetY())
	}
	p.SetY(bottom)
	return nil
}

func (r *renderer) qr(payload string, x, y float64) error {
	code, err := qr.Encode(payload, qr.M, qr.Unicode)
	if err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	px := code.Bounds().Dx() * 4
	scaled, err := barcode.Scale(code, px, px)
	if err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, scaled); err != nil {
		return fmt.Errorf("qr code: %w", err)
	}
	r.pdf.RegisterImageOptionsReader("sepa-qr", fpdf.ImageOptions{ImageType: "PNG"}, &b)
	r.pdf.ImageOptions("sepa-qr", x, y, qrSize, qrSize, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	return nil
}

func (r *renderer) date(t time.Time) string {
	if r.lang == English {
		return t.Format("2 January 2006")
	}
	return t.Format("02/01/2006")
}

// known is the label of prefix+code when there is one, else code.
func (r *renderer) known(prefix, code string) string {
	if _, ok := labels[prefix+code]; ok {
		return r.l(prefix + code)
	}
	return code
}

// termsDays reads the billing's payment terms, "30 days".
var termsDays = regexp.MustCompile(`^([0-9]+) days?$`)

// terms are the payment terms in the document's language when they are
// a number of days, else as written.
func (r *renderer) terms(s string) string {
	if m := termsDays.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		return strings.Replace(r.l("terms_days"), "{n}", m[1], 1)
	}
	return s
}

func (r *renderer) unit(code string) string {
	if _, ok := labels["unit_"+code]; ok {
		return r.l("unit_" + code)
	}
	return code
}

func (r *renderer) rate(v invoice.VAT) string {
	if v.Category == invoice.CategoryOutsideScope {
		return "–"
	}
	return v.Rate.String() + " %"
}

// qty prints a quantity with the language's marks: "12 345,5" in French,
// "12.345,5" in Dutch, "12,345.5" in English.
func (r *renderer) qty(q invoice.Quantity) string {
	s := q.String()
	sign := ""
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		sign, s = "-", rest
	}
	whole, frac, _ := strings.Cut(s, ".")
	group, dec := r.marks()
	out := sign + groupDigits(whole, group)
	if frac != "" {
		out += dec + frac
	}
	return out
}

// marks are the language's thousands and decimal marks.
func (r *renderer) marks() (group, decimal string) {
	switch r.lang {
	case French:
		return " ", ","
	case Dutch:
		return ".", ","
	}
	return ",", "."
}

// groupDigits puts the thousands mark between groups of three digits.
func groupDigits(digits, mark string) string {
	var groups []string
	for len(digits) > 3 {
		groups = append([]string{digits[len(digits)-3:]}, groups...)
		digits = digits[:len(digits)-3]
	}
	return strings.Join(append([]string{digits}, groups...), mark)
}

// money prints cents with the currency: "1 234,56 €" in French, "€ 1.234,56"
// in Dutch, "€1,234.56" in English (EUR; another currency by its code).
func (r *renderer) money(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	whole, cents := c/100, c%100
	group, _ := r.marks()
	digits := groupDigits(fmt.Sprint(whole), group)
	cur := r.d.CurrencyCode()
	sym := cur
	if cur == "EUR" {
		sym = "€"
	}
	switch r.lang {
	case French:
		return fmt.Sprintf("%s%s,%02d %s", sign, digits, cents, sym)
	case Dutch:
		return fmt.Sprintf("%s %s%s,%02d", sym, sign, digits, cents)
	}
	return fmt.Sprintf("%s%s%s.%02d", sign, sym, digits, cents)
}
