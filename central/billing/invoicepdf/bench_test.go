package invoicepdf

import (
	"bytes"
	"testing"

	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
)

// BenchmarkRender renders the standard sample (one page, with its QR code).
func BenchmarkRender(b *testing.B) {
	d := invoicetest.Samples()[0].Doc
	var buf bytes.Buffer
	n := 0
	for b.Loop() {
		buf.Reset()
		if err := Render(&buf, &d, French); err != nil {
			b.Fatal(err)
		}
		n += buf.Len()
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/pdf")
}
