package ubl_test

import (
	"testing"

	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/billing/ubl"
)

// BenchmarkMarshal writes the standard sample (3 lines, a discount) as UBL.
func BenchmarkMarshal(b *testing.B) {
	d := invoicetest.Samples()[0].Doc
	n := 0
	for b.Loop() {
		out, err := ubl.Marshal(&d)
		if err != nil {
			b.Fatal(err)
		}
		n += len(out)
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/doc")
}
