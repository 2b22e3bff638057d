// Package metricstest checks a Prometheus text exposition with promtool
// (`promtool check metrics`, Debian package prometheus), as Prometheus
// would read the /metrics of swc-edge and swc-central. Only tests import it.
package metricstest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// envRequire turns the skip without promtool into a failure (as for the
// other services tests need).
const envRequire = "SWC_REQUIRE_SERVICES"

// Promtool returns the path of promtool, or skips the test (fails it when
// SWC_REQUIRE_SERVICES=1) when it is not installed.
func Promtool(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err == nil {
		return path
	}
	msg := "promtool is not installed: this test needs it (apt-get install prometheus)"
	if os.Getenv(envRequire) == "1" {
		t.Fatalf("%s (and %s=1 requires every service)", msg, envRequire)
	}
	t.Skip(msg)
	return ""
}

// Check runs `promtool check metrics` on exposition and fails the test with
// what promtool says when it finds a problem (errors and lint findings
// alike: promtool exits non-zero for both).
func Check(t testing.TB, exposition []byte) {
	t.Helper()
	if len(bytes.TrimSpace(exposition)) == 0 {
		t.Fatal("empty exposition: nothing to check")
	}
	if err := Run(Promtool(t), exposition); err != nil {
		t.Fatal(err)
	}
}

// Run runs the promtool at path on exposition and returns what it found.
func Run(path string, exposition []byte) error {
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("promtool check metrics: %w\n%s", err, out)
	}
	return nil
}
