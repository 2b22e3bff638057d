package invoicepdf

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/smartworkcenters/swc/central/billing/invoice"
	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
)

// crowded is the standard sample with what stretches a layout: a long
// buyer name and street, a long description, a five-digit quantity, a
// four-digit price per 60 minutes and six-digit amounts. Its payment block
// does not fit on the first page.
func crowded() invoice.Document {
	d := invoicetest.Samples()[0].Doc
	d.Buyer.Name = "Internationale Vereniging voor Coöperatieve Werkplekken en Gedeelde Kantoren VZW"
	d.Buyer.Address.Street = "Boulevard du Souverain 280, boîte 12, bâtiment B, troisième étage"
	vat := d.Lines[0].VAT
	d.Lines = append(d.Lines,
		invoice.Line{Description: "Correction of 2026-10: hours at Leuven Cowork, Bondgenotenlaan (late exit taps)", Quantity: invoice.Units(12345),
			Unit: "MIN", UnitPriceCents: 123456, BaseQuantity: invoice.Units(60), VAT: vat},
		invoice.Line{Description: "No-show (booking not attended)", Quantity: invoice.Units(3), Unit: "C62", UnitPriceCents: 500, VAT: vat})
	return d
}

// word is a word poppler found on a page, with its box in points.
type word struct {
	page                   int
	text                   string
	xMin, yMin, xMax, yMax float64
}

var reWord = regexp.MustCompile(`<page |<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>`)

// words runs poppler's pdftotext -bbox on pdf.
func words(t *testing.T, pdf []byte) []word {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
			t.Fatalf("pdftotext is required (SWC_REQUIRE_SERVICES=1): %v", err)
		}
		t.Skipf("skipping: pdftotext not available (%v); apt-get install poppler-utils", err)
	}
	in := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), tool, "-bbox", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	var ws []word
	page := 0
	for _, m := range reWord.FindAllStringSubmatch(string(out), -1) {
		if m[1] == "" {
			page++
			continue
		}
		w := word{page: page, text: m[5]}
		for i, p := range []*float64{&w.xMin, &w.yMin, &w.xMax, &w.yMax} {
			*p, _ = strconv.ParseFloat(m[i+1], 64)
		}
		ws = append(ws, w)
	}
	return ws
}

// TestNoTextOverlaps renders every sample and a crowded invoice in the
// three languages and reads the words back with poppler: no two words on
// a page overlap, and in the lines table no word crosses a column's edge
// (a cell's text ran into the next column: the crowded line's
// "12345 min" into its unit price, read back as one word "min€").
func TestNoTextOverlaps(t *testing.T) {
	const pt = 72 / 25.4 // points per millimetre
	var edges []float64  // the lines table's inner column edges, in points
	x := margin
	for _, w := range cols[:len(cols)-1] {
		x += w
		edges = append(edges, x*pt)
	}
	docs := []invoicetest.Sample{{Name: "crowded", Doc: crowded()}}
	docs = append(docs, invoicetest.Samples()...)
	for _, s := range docs {
		for _, lang := range []Lang{French, Dutch, English} {
			ws := words(t, render(t, &s.Doc, lang))
			if len(ws) < 20 {
				t.Fatalf("%s %s: %d words read back", s.Name, lang, len(ws))
			}
			const slack = 0.5       // points: glyph boxes of neighbours touch
			top, bottom := 0.0, 0.0 // the lines table on the first page: from its head to the VAT breakdown
			for _, w := range ws {
				switch {
				case w.page == 1 && top == 0 && w.text == label(lang, "description"):
					top = w.yMax
				case w.page == 1 && bottom == 0 && top != 0 && w.yMin > top && w.text == strings.Fields(label(lang, "vat_breakdown"))[0]:
					bottom = w.yMin
				}
			}
			if top == 0 || bottom <= top {
				t.Fatalf("%s %s: the lines table is not found (%v to %v)", s.Name, lang, top, bottom)
			}
			for _, w := range ws {
				if w.page != 1 || w.yMin < top || w.yMax > bottom {
					continue
				}
				for _, e := range edges {
					if w.xMin+slack < e && w.xMax-slack > e {
						t.Errorf("%s %s: %q crosses a column's edge of the lines table", s.Name, lang, w.text)
					}
				}
			}
			for i, a := range ws {
				for _, b := range ws[i+1:] {
					if a.page == b.page && a.xMin+slack < b.xMax && b.xMin+slack < a.xMax && a.yMin+slack < b.yMax && b.yMin+slack < a.yMax {
						t.Errorf("%s %s page %d: %q and %q overlap", s.Name, lang, a.page, a.text, b.text)
					}
				}
			}
		}
	}
}

// TestPaymentAloneSaysAmount: when the payment block goes to a page of its
// own, it says the amount to pay there too.
func TestPaymentAloneSaysAmount(t *testing.T) {
	d := crowded()
	for _, lang := range []Lang{French, Dutch, English} {
		var last []string
		pages := 0
		for _, w := range words(t, render(t, &d, lang)) {
			if w.page > pages {
				pages, last = w.page, nil
			}
			last = append(last, w.text)
		}
		if pages < 2 {
			t.Fatalf("%s: the crowded invoice is on one page; the test needs the payment on the second", lang)
		}
		text := strings.Join(last, " ")
		r := &renderer{d: &d, lang: lang}
		if !strings.Contains(text, label(lang, "pay_to")) {
			t.Fatalf("%s: the last page has no payment block: %s", lang, text)
		}
		if due := r.money(d.Totals().PayableCents); !strings.Contains(text, due) {
			t.Errorf("%s: the payment page does not say the amount due %q: %s", lang, due, text)
		}
	}
}
