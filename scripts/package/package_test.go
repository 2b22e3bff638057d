package main

import (
	"bytes"
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
