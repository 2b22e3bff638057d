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
				binary = f.Src == filepath.Join("bin", p.Binary) && f.Mode == "0755"
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
		for _, s := range []string{p.PostInst, p.PreRm} {
			out, err := exec.Command("sh", "-n", filepath.Join(root, s)).CombinedOutput()
			assert.NoError(t, err, "%s: %s", s, out)
		}
		var b bytes.Buffer
		require.NoError(t, nfpmConfig.Execute(&b, struct {
			pkg
			Version string
		}{p, "1.2.3"}))
		assert.Contains(t, b.String(), `dst: "/usr/bin/`+p.Name+`"`)
		assert.Contains(t, b.String(), `description: "Smart Work Centers`, "quoted: the description holds a colon")
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
		"SupplementaryGroups=gpio spi", "ExecStart=/usr/bin/swc-edge run --config /etc/swc-edge/swc-edge.toml", "StateDirectory=swc-edge", "WantedBy=multi-user.target"} {
		assert.Contains(t, string(edge), want)
	}
	central, err := os.ReadFile(filepath.Join(root, "scripts/systemd/swc-central.service"))
	require.NoError(t, err)
	for _, want := range []string{"EnvironmentFile=-/etc/default/swc-central", "ExecStart=/usr/bin/swc-central serve --data /var/lib/swc-central $SWC_CENTRAL_FLAGS",
		"Restart=on-failure", "User=swc-central", "StateDirectory=swc-central", "WantedBy=multi-user.target"} {
		assert.Contains(t, string(central), want)
	}
}

func TestContainsPath(t *testing.T) {
	listing := []byte("drwxr-xr-x root/root 0 2026-11-26 19:30 ./usr/bin/\n-rwxr-xr-x root/root 15981646 2026-11-26 19:28 ./usr/bin/swc-edge\n")
	assert.True(t, containsPath(listing, "./usr/bin/swc-edge"))
	assert.False(t, containsPath(listing, "./usr/bin/swc-central"))
	assert.False(t, containsPath(listing, "./usr/bin/swc"))
}
