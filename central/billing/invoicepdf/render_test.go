package invoicepdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
)

// reStream finds a stream's bytes: fpdf writes "stream\n", the bytes and
// "\nendstream" (a compressed stream may end with a \r byte of its own,
// so no optional \r is taken off).
var reStream = regexp.MustCompile(`(?s)stream\n(.*?)\nendstream`)

// content returns the PDF's inflated streams (page contents and images),
// concatenated; streams that are not zlib are kept as they are.
func content(t *testing.T, pdf []byte) string {
	t.Helper()
	var out strings.Builder
	for _, m := range reStream.FindAllSubmatch(pdf, -1) {
		z, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			out.Write(m[1])
			continue
		}
		b, err := io.ReadAll(z)
		if err != nil {
			t.Fatalf("inflate: %v", err)
		}
		out.Write(b)
	}
	return out.String()
}

func render(t *testing.T, d *invoice.Document, lang Lang) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, d, lang); err != nil {
		t.Fatalf("%s %s: %v", d.Number, lang, err)
	}
	return b.Bytes()
}

func TestRenderSamples(t *testing.T) {
	want := map[Lang][]string{
		French:  {"Facture", "Montant à payer", "243,27 €", "Communication structurée", "Scannez avec votre app", "21 % taux normal", "Paiement à 30 jours", "Belgique", "Remise : "},
		Dutch:   {"Factuur", "Te betalen", "€ 243,27", "Gestructureerde mededeling", "Scan met je", "21 % normaal tarief", "Betaling binnen 30 dagen", "België", "Korting: "},
		English: {"Invoice", "Amount due", "€243.27", "Structured communication", "Scan with your", "21 % standard rate", "Payment within 30 days", "Belgium", "Discount: "},
	}
	samples := invoicetest.Samples()
	for _, lang := range []Lang{French, Dutch, English} {
		for _, s := range samples {
			pdf := render(t, &s.Doc, lang)
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.HasSuffix(bytes.TrimSpace(pdf), []byte("%%EOF")) {
				t.Fatalf("%s %s: not a PDF", s.Name, lang)
			}
			if again := render(t, &s.Doc, lang); !bytes.Equal(pdf, again) {
				t.Errorf("%s %s: two renderings differ: the PDF is not reproducible", s.Name, lang)
			}
			text := content(t, pdf)
			cp := toCP1252(t)
			if !strings.Contains(text, s.Doc.Number) {
				t.Errorf("%s %s: number %s missing", s.Name, lang, s.Doc.Number)
			}
			hasQR := strings.Contains(string(pdf), "/Subtype /Image")
			switch s.Name {
			case "standard":
				for _, w := range want[lang] {
					if !strings.Contains(text, cp(w)) {
						t.Errorf("%s %s: %q missing", s.Name, lang, w)
					}
				}
				if !strings.Contains(text, "+++123/4567/89002+++") || !strings.Contains(text, "BE68 5390 0754 7034") {
					t.Errorf("%s %s: payment details missing", s.Name, lang)
				}
				if !hasQR {
					t.Errorf("%s %s: no QR code image", s.Name, lang)
				}
			case "credit_note":
				if hasQR {
					t.Errorf("credit note %s: a QR code asks the buyer to pay", lang)
				}
				if !strings.Contains(text, "SWC-2026-000001") {
					t.Errorf("credit note %s: the corrected invoice's number is missing", lang)
				}
				if strings.Contains(text, cp(label(lang, "pay_to"))) {
					t.Errorf("credit note %s: asks to pay", lang)
				}
			case "reverse_charge":
				if !strings.Contains(text, "VATEX-EU-AE") || !strings.Contains(text, cp(label(lang, "cat_AE"))) {
					t.Errorf("reverse charge %s: mention missing", lang)
				}
				if mention := label(lang, "vatex_VATEX-EU-AE"); !strings.Contains(text, cp(mention[:30])) {
					t.Errorf("reverse charge %s: the legal mention %q is not in the document's language", lang, mention)
				}
				if !strings.Contains(text, cp(label(lang, "country_NL"))) {
					t.Errorf("reverse charge %s: the buyer's country is not named", lang)
				}
			case "self_billed":
				if !strings.Contains(text, cp(label(lang, "self_billed"))[:20]) {
					t.Errorf("self-billed %s: self-billing mention missing", lang)
				}
			}
			if lang == French && s.Name == "standard" {
				if dir := os.Getenv("SWC_BILLING_PDF_OUT"); dir != "" { // to look at it
					os.WriteFile(dir+"/"+FileName(&s.Doc, lang), pdf, 0o644)
				}
			}
		}
	}
}

var reFont = regexp.MustCompile(`/F\w+ ([0-9.]+) Tf`)

// Readable on a phone: no text smaller than 10 pt.
func TestTypeSize(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	text := content(t, render(t, &d, French))
	sizes := reFont.FindAllStringSubmatch(text, -1)
	if len(sizes) == 0 {
		t.Fatal("no font selection found")
	}
	for _, m := range sizes {
		if s, _ := strconv.ParseFloat(m[1], 64); s < 10 {
			t.Errorf("text at %s pt; want at least 10", m[1])
		}
	}
}

func TestManyLinesBreakPages(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	line := d.Lines[0]
	d.Lines = nil
	for i := range 80 {
		l := line
		l.Description = fmt.Sprintf("Desk hours, day %d, a description long enough to wrap over two lines of the table on an A4 page", i+1)
		d.Lines = append(d.Lines, l)
	}
	pdf := render(t, &d, Dutch)
	pages := strings.Count(string(pdf), "/Type /Page\n") + strings.Count(string(pdf), "/Type /Page ")
	if pages < 3 {
		t.Errorf("%d pages for 80 wrapped lines; want at least 3", pages)
	}
	if !strings.Contains(content(t, pdf), "Pagina 3/") {
		t.Error("page numbers missing")
	}
}

func TestLabels(t *testing.T) {
	for k, v := range labels {
		for i, s := range v {
			if s == "" && k != "unit_C62" {
				t.Errorf("label %q has no text in language %d", k, i)
			}
		}
	}
	for _, tc := range []struct {
		in   string
		want Lang
	}{{"fr-BE", French}, {"nl_BE", Dutch}, {"EN", English}, {"en-GB", English}} {
		if got, err := ParseLang(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseLang(%q) = %q, %v", tc.in, got, err)
		}
	}
	if _, err := ParseLang("de"); err == nil {
		t.Error("de accepted")
	}
}

func TestRenderRefusesInvalid(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	d.Number = ""
	if err := Render(io.Discard, &d, French); err == nil || !strings.Contains(err.Error(), "number") {
		t.Errorf("Render of an invalid document: %v", err)
	}
}

func TestMoney(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	for lang, want := range map[Lang]string{French: "-1 234 567,89 €", Dutch: "€ -1.234.567,89", English: "-€1,234,567.89"} {
		r := &renderer{d: &d, lang: lang}
		if got := r.money(-123456789); got != want {
			t.Errorf("%s: %q; want %q", lang, got, want)
		}
	}
}

// toCP1252 converts expected text as the renderer writes it.
func toCP1252(t *testing.T) func(string) string {
	t.Helper()
	r := &renderer{cp: newTranslator()}
	return func(s string) string {
		out := r.txt(s)
		// the PDF escapes parentheses and backslashes in strings
		return strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(out)
	}
}

func TestFileName(t *testing.T) {
	d := invoicetest.Samples()[0].Doc
	d.Number = "SWC/2026 001"
	if got := FileName(&d, Dutch); got != "SWC_2026_001-nl.pdf" {
		t.Errorf("FileName = %q", got)
	}
}
