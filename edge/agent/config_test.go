package agent

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
)

const minimalConfig = `
door_id = "door-1"
data_dir = "/tmp/x"
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
`

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimalConfig))
	require.NoError(t, err)
	assert.Equal(t, "door-1", cfg.DoorID)
	assert.Equal(t, 5*time.Second, cfg.Door.UnlockTime)
	assert.Equal(t, 30*time.Second, cfg.Door.HeldOpenTime)
	assert.True(t, cfg.Door.LockActiveLow)
	assert.Equal(t, "fail_secure", cfg.Door.LockType)
	assert.Equal(t, 15*time.Minute, cfg.Policy.Grace)
	assert.Equal(t, 7*24*time.Hour, cfg.Policy.MaxWhitelistAge)
	assert.Equal(t, 2*time.Second, cfg.Policy.Debounce)
	assert.Equal(t, "staff_only", cfg.Policy.UntrustedClock)
	assert.Equal(t, DefaultListen, cfg.HTTP.Listen)
	assert.Equal(t, "/tmp/x/swc-edge.db", cfg.DBPath())
	assert.Contains(t, strings.Join(cfg.Warnings, "\n"), "whitelist.keys is empty")
	assert.False(t, cfg.HasSection("mqtt"))
}

func TestParseErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name string
		toml string
		want []string
	}{
		{"missing door id and lock pin", "data_dir = \"/x\"\n[reader]\ndriver = \"sim\"", []string{"door_id is missing", "door.lock_pin is missing"}},
		{"valid minimal config", minimalConfig, nil},
		{"unknown driver", strings.Replace(minimalConfig, `driver = "sim"`, `driver = "rc522"`, 1), []string{`reader.driver = "rc522": want one of ["mfrc522" "sim"]`}},
		{"unknown key", minimalConfig + "unlock_tim = \"3s\"\n", []string{`unknown key "door.unlock_tim"`}},
		{"unknown section", minimalConfig + "[mqqt]\nbroker = \"x\"\n", []string{`unknown key "mqqt"`}},
		{"unlock too long", minimalConfig + "unlock_time = \"45s\"\n", []string{"door.unlock_time = 45s: want 1s to 30s"}},
		{"unlock as a bare number", minimalConfig + "unlock_time = 5\n", []string{`door.unlock_time: write durations as a string with a unit, such as "5s"`}},
		{"bad duration", minimalConfig + "unlock_time = \"5 seconds\"\n", []string{"line 8", "5 seconds"}},
		{"wrong type", minimalConfig + "lock_active_low = \"yes\"\n", []string{"line 8", "lock_active_low"}},
		{"header pin number instead of GPIO", strings.Replace(minimalConfig, `"GPIO5"`, `"29"`, 1), []string{`door.lock_pin = "29": want a Broadcom GPIO name GPIO0 to GPIO27`}},
		{"pin used twice", minimalConfig + "contact_pin = \"GPIO5\"\n", []string{`door.contact_pin = "GPIO5": already used by door.lock_pin`}},
		{"pin of the reader's SPI bus", minimalConfig + "rex_pin = \"GPIO10\"\n", []string{`door.rex_pin = "GPIO10": that GPIO is SPI0 MOSI`}},
		{"bad lock type", minimalConfig + "lock_type = \"magnet\"\n", []string{`door.lock_type = "magnet": want one of ["fail_secure" "fail_safe"]`}},
		{"bad contact", minimalConfig + "contact = \"closed\"\n", []string{`door.contact = "closed"`}},
		{"bad policy", minimalConfig + "[policy]\nuntrusted_clock = \"yes\"\n", []string{`policy.untrusted_clock = "yes": want one of [staff_only allow_all deny_all]`}},
		{"bad ntp", minimalConfig + "[clock]\nntp = \"chrony\"\n", []string{`clock.ntp = "chrony"`}},
		{"bad key", minimalConfig + "[whitelist]\nkeys = [\"rsa:abc\"]\n", []string{"whitelist.keys[0]", "ed25519:<base64>"}},
		{"bad listen", minimalConfig + "[http]\nlisten = \"7780\"\n", []string{`http.listen = "7780": want host:port`}},
		{"bad spi", strings.Replace(minimalConfig, `driver = "sim"`, "driver = \"sim\"\nspi_bus = 3\nspi_device = 4", 1), []string{"reader.spi_bus = 3", "reader.spi_device = 4"}},
		{"bad door id", strings.Replace(minimalConfig, `"door-1"`, `"door/1"`, 1), []string{`door_id = "door/1"`}},
		{"fault at start needs sim", strings.Replace(minimalConfig, `driver = "sim"`, `driver = "mfrc522"`, 1) + "[sim]\nreader_fault_at_start = true\n", []string{"sim.reader_fault_at_start needs"}},
		{"not toml", "door_id = ", []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestBootWarnings(t *testing.T) {
	base := strings.Replace(minimalConfig, `driver = "sim"`, `driver = "mfrc522"`, 1)
	base = strings.Replace(base, `lock_pin = "GPIO5"`, "", 1)
	tests := []struct {
		name   string
		door   string
		unsafe bool
	}{
		{"active-low strike on GPIO5 (pulled up)", "lock_pin = \"GPIO5\"", false},
		{"active-low strike on GPIO17 (pulled down)", "lock_pin = \"GPIO17\"", true},
		{"active-high strike on GPIO17", "lock_pin = \"GPIO17\"\nlock_active_low = false", false},
		{"active-high strike on GPIO4", "lock_pin = \"GPIO4\"\nlock_active_low = false", true},
		{"active-low maglock on GPIO5: released at boot", "lock_pin = \"GPIO5\"\nlock_type = \"fail_safe\"", true},
		{"active-low maglock on GPIO17: energised at boot", "lock_pin = \"GPIO17\"\nlock_type = \"fail_safe\"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base + tt.door + "\n"))
			require.NoError(t, err)
			assert.Equal(t, tt.unsafe, strings.Contains(strings.Join(cfg.Warnings, "\n"), "UNLOCKED until swc-edge starts"), "%v", cfg.Warnings)
		})
	}
}

func TestExtraSection(t *testing.T) {
	cfg, err := Parse([]byte(minimalConfig + "[mqtt]\nbroker = \"tls://central:8883\"\nqos = 1\n"))
	require.NoError(t, err)
	require.True(t, cfg.HasSection("mqtt"))
	var good struct {
		Broker string `toml:"broker"`
		QoS    int    `toml:"qos"`
	}
	require.NoError(t, cfg.DecodeSection("mqtt", &good))
	assert.Equal(t, "tls://central:8883", good.Broker)
	assert.Equal(t, 1, good.QoS)

	cfg, err = Parse([]byte(minimalConfig + "[mqtt]\nbroker = \"x\"\nqso = 1\n"))
	require.NoError(t, err)
	var short struct {
		Broker string `toml:"broker"`
	}
	require.ErrorContains(t, cfg.DecodeSection("mqtt", &short), `unknown key "mqtt.qso"`)
	require.ErrorContains(t, cfg.DecodeSection("nothing", &short), "no [nothing] section")
}

func TestLoadAndKeyRing(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "swc-edge.toml")
	require.NoError(t, os.WriteFile(path, []byte(minimalConfig+"[whitelist]\nkeys = [\""+protocol.FormatPublicKey(pub)+"\"]\n"), 0o600))
	cfg, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, path, cfg.Path)
	assert.NotContains(t, strings.Join(cfg.Warnings, "\n"), "whitelist.keys is empty")
	require.NotNil(t, cfg.KeyRing())

	_, err = Load(filepath.Join(t.TempDir(), "missing.toml"))
	require.ErrorContains(t, err, "no such file")
	require.NoError(t, os.WriteFile(path, []byte("door_id = 3\n"), 0o600))
	_, err = Load(path)
	require.ErrorContains(t, err, path)
}

// The sample configurations shipped in scripts/pi parse, with no warning
// about the relay at boot.
func TestSampleConfigsParse(t *testing.T) {
	for file, driver := range map[string]string{"swc-edge.toml": DriverMFRC522, "swc-edge-sim.toml": DriverSim} {
		data, err := os.ReadFile(filepath.Join("..", "..", "scripts", "pi", file))
		require.NoError(t, err)
		cfg, err := Parse(data)
		require.NoError(t, err, file)
		assert.Equal(t, driver, cfg.Reader.Driver)
		for _, w := range cfg.Warnings {
			assert.NotContains(t, w, "UNLOCKED", file)
		}
	}
}
