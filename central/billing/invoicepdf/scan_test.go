package invoicepdf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/billing/sepa"
)

// TestQRScans renders the standard invoice's first page at 150 dpi
// (poppler's pdftoppm) and reads its QR code with zbarimg, as a phone would:
// the code must carry exactly the EPC069-12 payload of the invoice.
func TestQRScans(t *testing.T) {
	var tools []string
	for _, tool := range []string{"pdftoppm", "zbarimg"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s is required (SWC_REQUIRE_SERVICES=1): %v", tool, err)
			}
			t.Skipf("skipping: %s not available (%v); apt-get install poppler-utils zbar-tools", tool, err)
		}
		tools = append(tools, p)
	}
	d := invoicetest.Samples()[0].Doc
	want, err := sepa.InvoiceQR(&d)
	if err != nil || want == "" {
		t.Fatalf("InvoiceQR: %q, %v", want, err)
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "invoice.pdf")
	if err := os.WriteFile(pdf, render(t, &d, Dutch), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), tools[0], "-r", "150", "-f", "1", "-l", "1", "-png", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pages) != 1 {
		t.Fatalf("pdftoppm made %v", pages)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(t.Context(), tools[1], "--raw", "-q", "-Sdisable", "-Sqrcode.enable", pages[0])
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("zbarimg found no QR code: %v\n%s", err, stderr.String())
	}
	if got := strings.TrimSuffix(stdout.String(), "\n"); got != want {
		t.Errorf("scanned %q; want %q", got, want)
	}
}
