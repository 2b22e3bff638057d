package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// MaxExposure is the highest `systemd-analyze security` exposure a shipped
// service may have: 4.0 and below is rated "OK".
const MaxExposure = 4.0

// tool returns the path of a command the test needs, or skips the test
// naming it (a failure with SWC_REQUIRE_SERVICES=1, as in CI).
func tool(t *testing.T, name, debian string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed: this test needs it (Debian: apt-get install %s)", name, debian)
	if os.Getenv("SWC_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s (and SWC_REQUIRE_SERVICES=1 requires it)", msg)
	}
	t.Skip(msg)
	return ""
}

// units are the shipped unit files.
func units(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "scripts", "systemd", pattern))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// TestUnitsSecurity rates every shipped service with `systemd-analyze
// security --offline=yes --threshold=40` (the unit files as they are, no
// running systemd needed; systemd 252 takes the threshold in tenths, 40 for
// an exposure of 4.0): each must be "OK" or better.
func TestUnitsSecurity(t *testing.T) {
	sa := tool(t, "systemd-analyze", "systemd")
	for _, unit := range units(t, "*.service") {
		t.Run(filepath.Base(unit), func(t *testing.T) {
			out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", "--threshold="+strconv.Itoa(int(MaxExposure*10)), unit).CombinedOutput()
			m := exposure.FindSubmatch(out)
			require.NotNil(t, m, "systemd-analyze printed no exposure level: %s", out)
			level, perr := strconv.ParseFloat(string(m[1]), 64)
			require.NoError(t, perr)
			t.Logf("%s: exposure %.1f", filepath.Base(unit), level)
			assert.NoError(t, err, "exposure %.1f is above %.1f:\n%s", level, MaxExposure, out)
			assert.LessOrEqual(t, level, MaxExposure)
		})
	}
}

// TestUnitsVerify runs `systemd-analyze verify` on the shipped units in a
// root of their own (this machine's units, the shipped ones in
// lib/systemd/system, and a stand-in for each program they start), so that
// it works offline and whatever is installed here: any complaint (an
// unknown or misspelt setting, a bad value) fails the test, although
// systemd-analyze itself exits 0 on those.
func TestUnitsVerify(t *testing.T) {
	sa := tool(t, "systemd-analyze", "systemd")
	if _, err := os.Stat("/lib/systemd/system/sysinit.target"); err != nil {
		t.Skip("this machine has no systemd units to verify against (/lib/systemd/system/sysinit.target)")
	}
	dir := t.TempDir()
	sys := filepath.Join(dir, "lib", "systemd", "system")
	require.NoError(t, os.MkdirAll(filepath.Dir(sys), 0o755))
	require.NoError(t, exec.Command("cp", "-r", "/lib/systemd/system", sys).Run())
	stub, err := exec.LookPath("true")
	require.NoError(t, err)
	var shipped []string
	for _, unit := range append(units(t, "*.service"), units(t, "*.path")...) {
		b, err := os.ReadFile(unit)
		require.NoError(t, err)
		dst := filepath.Join(sys, filepath.Base(unit))
		require.NoError(t, os.WriteFile(dst, b, 0o644))
		shipped = append(shipped, dst)
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(k, "Exec") {
				continue
			}
			prog := strings.Fields(strings.TrimLeft(v, "-@:+!"))[0]
			p := filepath.Join(dir, prog)
			if _, err := os.Stat(p); err == nil {
				continue
			}
			b, err := os.ReadFile(stub)
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, b, 0o755))
		}
	}
	out, err := exec.Command(sa, append([]string{"verify", "--man=no", "--root=" + dir}, shipped...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify complained")
}
