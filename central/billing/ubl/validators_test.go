package ubl_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/smartworkcenters/swc/central/billing/invoice/invoicetest"
	"github.com/smartworkcenters/swc/central/billing/ubl"
)

// need skips the test when a validator is missing, and fails it when
// SWC_REQUIRE_SERVICES=1 (CI installs them: see .ci/run).
func need(t *testing.T, what, why string) {
	t.Helper()
	if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is required (SWC_REQUIRE_SERVICES=1) but %s", what, why)
	}
	t.Skipf("skipping: %s not available (%s); apt-get install libxml2-utils libsaxonhe-java default-jre-headless", what, why)
}

func xmllint(t *testing.T) string {
	p, err := exec.LookPath("xmllint")
	if err != nil {
		need(t, "xmllint", err.Error())
	}
	return p
}

// saxon returns the java command line prefix running Saxon-HE.
func saxon(t *testing.T) []string {
	java, err := exec.LookPath("java")
	if err != nil {
		need(t, "java", err.Error())
	}
	jar := os.Getenv("SWC_SAXON_JAR")
	if jar == "" {
		jar = "/usr/share/java/Saxon-HE.jar"
	}
	if _, err := os.Stat(jar); err != nil {
		need(t, "Saxon-HE", err.Error())
	}
	return []string{java, "-cp", jar, "net.sf.saxon.Transform"}
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.CommandContext(t.Context(), args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

type assertion struct {
	ID       string `xml:"id,attr"`
	Flag     string `xml:"flag,attr"`
	Location string `xml:"location,attr"`
	Text     string `xml:"text"`
}

type svrl struct {
	Fired  []struct{}  `xml:"fired-rule"`
	Failed []assertion `xml:"failed-assert"`
}

// schematron runs one rule set (XSLT) over every file of dir with one
// Saxon start, and returns the SVRL report of each file by name.
func schematron(t *testing.T, xslt, dir string) map[string]svrl {
	t.Helper()
	out := t.TempDir()
	cmd := append(saxon(t), "-s:"+dir, "-xsl:"+xslt, "-o:"+out)
	if msg, err := run(t, cmd...); err != nil {
		t.Fatalf("saxon %s: %v\n%s", filepath.Base(xslt), err, msg)
	}
	reports := map[string]svrl{}
	files, _ := filepath.Glob(filepath.Join(out, "*.xml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r svrl
		if err := xml.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		reports[filepath.Base(f)] = r
	}
	return reports
}

// fatal lists the failed assertions that are not warnings.
func fatal(r svrl) []assertion {
	var out []assertion
	for _, a := range r.Failed {
		if a.Flag != "warning" && a.Flag != "information" {
			out = append(out, a)
		}
	}
	return out
}

// TestValidators writes the sample documents (standard 21 %, reverse
// charge to a Dutch company, exempt with a reason, a credit note referring
// to an invoice, a self-billed invoice and its credit note, intra-community
// K, outside scope O)
// and four random invoices, and checks them with the real
// validators: the OASIS UBL 2.1 schema (xmllint), the EN 16931 UBL rules
// and the Peppol BIS Billing (or, for 389, Self-Billing) rules (Saxon-HE).
// A tampered copy of the first proves that the validators do reject.
func TestValidators(t *testing.T) {
	lint := xmllint(t)
	saxon(t)
	// all holds every document (EN 16931 applies to all); billing the
	// Peppol BIS Billing ones, self the self-billed one.
	all, billing, self := t.TempDir(), t.TempDir(), t.TempDir()
	var invoices, creditNotes []string
	for _, s := range invoicetest.Samples() {
		b, err := ubl.Marshal(&s.Doc)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		dir := billing
		if s.Doc.IsSelfBilled() {
			dir = self
		}
		f := filepath.Join(dir, s.Name+".xml")
		for _, p := range []string{f, filepath.Join(all, s.Name+".xml")} {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if s.Doc.IsCreditNote() {
			creditNotes = append(creditNotes, f)
		} else {
			invoices = append(invoices, f)
		}
	}
	// Random documents (deterministic: rapid's example for fixed seeds),
	// so that rounding cases beyond the samples meet the rules too.
	gen := rapid.Custom(invoicetest.Random)
	for seed := range 4 {
		d := gen.Example(seed)
		d.Number = fmt.Sprintf("RANDOM-%d", seed)
		b, err := ubl.Marshal(&d)
		if err != nil {
			t.Fatalf("random %d: %v", seed, err)
		}
		for _, dir := range []string{all, billing} {
			if err := os.WriteFile(filepath.Join(dir, d.Number+".xml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		invoices = append(invoices, filepath.Join(billing, d.Number+".xml"))
	}
	// The tampered copy: total with VAT off by one cent (BR-CO-15), and an
	// element the schema does not know.
	good, _ := os.ReadFile(filepath.Join(billing, "standard.xml"))
	bad := strings.Replace(string(good), "<cbc:TaxInclusiveAmount currencyID=\"EUR\">243.27<", "<cbc:TaxInclusiveAmount currencyID=\"EUR\">243.28<", 1)
	if bad == string(good) {
		t.Fatal("tampering found nothing to change: the standard sample's totals moved")
	}
	for _, dir := range []string{all, billing} {
		if err := os.WriteFile(filepath.Join(dir, "tampered.xml"), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	unknown := filepath.Join(t.TempDir(), "unknown.xml")
	os.WriteFile(unknown, []byte(strings.Replace(string(good), "<cbc:Note>", "<cbc:Remark>x</cbc:Remark><cbc:Note>", 1)), 0o644)

	schemas := filepath.Join("testdata", "ubl-2.1", "maindoc")
	t.Run("xsd", func(t *testing.T) {
		for schema, files := range map[string][]string{"UBL-Invoice-2.1.xsd": invoices, "UBL-CreditNote-2.1.xsd": creditNotes} {
			args := append([]string{lint, "--noout", "--nonet", "--schema", filepath.Join(schemas, schema)}, files...)
			if msg, err := run(t, args...); err != nil {
				t.Errorf("xmllint %s: %v\n%s", schema, err, msg)
			} else {
				t.Logf("xmllint %s: %s", schema, strings.TrimSpace(msg))
			}
		}
		if msg, err := run(t, lint, "--noout", "--nonet", "--schema", filepath.Join(schemas, "UBL-Invoice-2.1.xsd"), unknown); err == nil {
			t.Errorf("xmllint accepted an unknown element:\n%s", msg)
		}
	})
	for _, rules := range []struct {
		name, xslt, dir string
	}{
		{"en16931", "testdata/en16931/EN16931-UBL-validation.xslt", all},
		{"peppol-billing", "testdata/peppol/PEPPOL-EN16931-UBL.xslt", billing},
		{"peppol-self-billing", "testdata/peppol/PEPPOL-EN16931-UBL-SB.xslt", self},
	} {
		t.Run(rules.name, func(t *testing.T) {
			reports := schematron(t, rules.xslt, rules.dir)
			for name, r := range reports {
				if len(r.Fired) == 0 {
					t.Errorf("%s: no rule fired: the rules did not run on it", name)
				}
				f := fatal(r)
				if name == "tampered.xml" {
					if rules.name == "en16931" && !slices.ContainsFunc(f, func(a assertion) bool { return a.ID == "BR-CO-15" }) {
						t.Errorf("tampered.xml: fatal errors %v; want BR-CO-15", f)
					}
					continue
				}
				for _, a := range f {
					t.Errorf("%s: %s [%s] at %s: %s", name, a.Flag, a.ID, a.Location, strings.TrimSpace(a.Text))
				}
				for _, a := range r.Failed {
					if a.Flag == "warning" {
						t.Logf("%s: warning [%s]: %s", name, a.ID, strings.TrimSpace(a.Text))
					}
				}
				t.Logf("%s: %d rules fired, %d fatal", name, len(r.Fired), len(f))
			}
			if files, _ := filepath.Glob(filepath.Join(rules.dir, "*.xml")); len(reports) != len(files) || len(files) == 0 {
				t.Fatalf("%d reports for %d documents", len(reports), len(files))
			}
		})
	}
}
