package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the repository's root, where the package paths are relative to.
const root = "../.."

// TestPackageFiles: every file the packages take exists (the binaries come
// from make cross), each package has a binary, a unit and a configuration
// example, and nfpm's configuration is rendered for it.
func TestPackageFiles(t *testing.T) {
	ps := packages("bin")
	require.Len(t, ps, 4)
	arches := map[string][]string{}
	for _, p := range ps {
		arches[p.Name] = append(arches[p.Name], p.DebArch)
		var unit, example, binary bool
		for _, f := range p.Files {
			switch {
			case strings.HasPrefix(f.Dst, "/usr/bin/"):
				binary = f.Src == filepath.Join("bin", p.Binary.Name) && f.Mode == "0755"
				continue
			case strings.HasPrefix(f.Dst, "/lib/systemd/system/"):
				unit = true
			case strings.Contains(f.Dst, ".example"):
				example = true
			}
			_, err := os.Stat(filepath.Join(root, f.Src))
			assert.NoError(t, err, "%s %s: %s", p.Name, p.DebArch, f.Src)
		}
		assert.True(t, binary && unit && example, "%s %s: binary %v, unit %v, example %v", p.Name, p.DebArch, binary, unit, example)
		for _, s := range []string{p.PostInst, p.PreRm, p.PostRm} {
			out, err := exec.Command("sh", "-n", filepath.Join(root, s)).CombinedOutput()
			assert.NoError(t, err, "%s: %s", s, out)
		}
		var b bytes.Buffer
		require.NoError(t, nfpmConfig.Execute(&b, nfpmInput{pkg: p, Version: "1.2.3", Docs: "docs"}))
		assert.Contains(t, b.String(), `dst: "/usr/bin/`+p.Name+`"`)
		assert.Contains(t, b.String(), `description: "Smart Work Centers`, "quoted: the description holds a colon")
		assert.Contains(t, b.String(), `dst: "/usr/share/doc/`+p.Name+`/copyright"`)
		assert.Contains(t, b.String(), `dst: "/usr/share/doc/`+p.Name+`/changelog.gz"`)
		// Policy 5.6.13: the synopsis fits in 80 columns with the package
		// name; lintian wants the extended lines within 80 too.
		assert.LessOrEqual(t, len(p.Name)+2+len(p.Summary), 80, "%s: synopsis %q", p.Name, p.Summary)
		for _, line := range strings.Split(p.Description, "\n") {
			assert.LessOrEqual(t, len(line)+1, 80, "%s: description line %q", p.Name, line)
		}
	}
	assert.Equal(t, map[string][]string{"swc-edge": {"armhf", "arm64"}, "swc-central": {"amd64", "arm64"}}, arches)
	out, err := exec.Command("sh", "-n", filepath.Join(root, "scripts/pi/setup.sh")).CombinedOutput()
	assert.NoError(t, err, "%s", out)
}

// TestUnits checks what the units promise the door and the central.
func TestUnits(t *testing.T) {
	edge, err := os.ReadFile(filepath.Join(root, "scripts/systemd/swc-edge.service"))
	require.NoError(t, err)
	for _, want := range []string{"Type=notify", "WatchdogSec=", "Restart=always", "After=time-sync.target", "User=swc-edge",
		"SupplementaryGroups=gpio spi", "ExecStart=/usr/bin/swc-edge run --config /etc/swc-edge/swc-edge.toml", "StateDirectory=swc-edge", "WantedBy=multi-user.target",
		"ProtectSystem=strict", "DevicePolicy=closed", "DeviceAllow=char-spi rw", "DeviceAllow=char-gpiochip rw", "\nCapabilityBoundingSet=\n",
		"SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "RestrictNamespaces=yes", "SystemCallFilter=adjtimex"} {
		assert.Contains(t, string(edge), want)
	}
	// ProtectClock=yes would refuse the agent's read-only adjtimex (systemd
	// 252 blocks every @clock call): the clock is protected by the empty
	// capability set instead.
	assert.NotRegexp(t, `(?m)^ProtectClock=yes`, string(edge))
	// ProcSubset=pid would hide /proc/device-tree and /proc/cpuinfo, by
	// which periph.io finds the Raspberry Pi's GPIO drivers.
	assert.NotRegexp(t, `(?m)^ProcSubset=pid`, string(edge))
	central, err := os.ReadFile(filepath.Join(root, "scripts/systemd/swc-central.service"))
	require.NoError(t, err)
	for _, want := range []string{"EnvironmentFile=-/etc/default/swc-central", "ExecStart=/usr/bin/swc-central serve --data /var/lib/swc-central $SWC_CENTRAL_FLAGS",
		"Restart=on-failure", "User=swc-central", "StateDirectory=swc-central", "WantedBy=multi-user.target",
		"Type=notify", "WatchdogSec=", "LimitNOFILE=65536", "ProtectSystem=strict", "\nCapabilityBoundingSet=\n", "ProtectClock=yes",
		"SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "RestrictNamespaces=yes", "PrivateDevices=yes"} {
		assert.Contains(t, string(central), want)
	}
}

func TestContainsPath(t *testing.T) {
	listing := []byte("drwxr-xr-x root/root 0 2026-11-26 19:30 ./usr/bin/\n-rwxr-xr-x root/root 15981646 2026-11-26 19:28 ./usr/bin/swc-edge\n")
	assert.True(t, containsPath(listing, "./usr/bin/swc-edge"))
	assert.False(t, containsPath(listing, "./usr/bin/swc-central"))
	assert.False(t, containsPath(listing, "./usr/bin/swc"))
}

// TestChangelog: the shipped changelog's newest entry is checked against
// the packages' version (make package's VERSION), and malformed ones are
// refused.
func TestChangelog(t *testing.T) {
	changelog, err := os.ReadFile(filepath.Join(root, ChangelogFile))
	require.NoError(t, err)
	assert.NoError(t, checkChangelog(changelog, "0.1.0"), "Makefile's VERSION")
	assert.ErrorContains(t, checkChangelog(changelog, "0.2.0"), "add an entry for 0.2.0")
	assert.ErrorContains(t, checkChangelog([]byte("swc 0.1.0\n"), "0.1.0"), "first line")
	assert.ErrorContains(t, checkChangelog([]byte("swc (0.1.0) unstable; urgency=medium\n\n  * x\n"), "0.1.0"), "--")
}

// TestDocs: the copyright file is machine-readable (DEP-5) with the whole
// license; the changelog and the manual page are gzipped at the best
// compression without a time stamp (what lintian checks).
func TestDocs(t *testing.T) {
	dir := t.TempDir()
	license, err := os.ReadFile(filepath.Join(root, LicenseFile))
	require.NoError(t, err)
	changelog := []byte("swc (1.2.3) unstable; urgency=medium\n\n  * x\n\n -- A <a@b.c>  Mon, 07 Dec 2026 06:00:00 +0000\n")
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(root))
	err = writeDocs(dir, "swc-edge", license, changelog)
	require.NoError(t, os.Chdir(wd))
	require.NoError(t, err)

	c, err := os.ReadFile(filepath.Join(dir, "copyright"))
	require.NoError(t, err)
	text := string(c)
	assert.True(t, strings.HasPrefix(text, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"))
	assert.Contains(t, text, "\nFiles: *\nCopyright: 2026 The Smart Work Centers cooperative and contributors\nLicense: Expat\n Permission is hereby granted")
	for _, line := range strings.Split(strings.TrimSuffix(text[strings.Index(text, "License: Expat\n")+len("License: Expat\n"):], "\n"), "\n") {
		assert.True(t, strings.HasPrefix(line, " "), "license line %q is not indented", line)
	}
	assert.Contains(t, text, "THE SOFTWARE IS PROVIDED \"AS IS\"")

	for name, want := range map[string][]byte{"changelog.gz": changelog, "swc-edge.1.gz": nil} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Greater(t, len(raw), 10)
		assert.Equal(t, []byte{0, 0, 0, 0}, raw[4:8], "%s: no time stamp", name)
		assert.Equal(t, byte(2), raw[8], "%s: best compression (XFL 2)", name)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Empty(t, zr.Name, name)
		if want != nil {
			assert.Equal(t, want, got)
		} else {
			assert.True(t, bytes.HasPrefix(got, []byte(".TH SWC-EDGE 1")), "the manual page")
		}
	}
}
