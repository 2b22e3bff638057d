package enroll

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/smartworkcenters/swc/edge/agent"
)

// Settings are what provisioning writes into the door's configuration.
type Settings struct {
	Door        string
	DataDir     string
	SigningKeys []string
	Broker      string
	TopicPrefix string
	Files       Files
	Central     string // the central's URL, for the header comment
	Time        time.Time
}

// mqttKept are the [mqtt] keys of an existing configuration that
// provisioning keeps (tuning); the connection keys are replaced, and the
// per-door secret (username, password, password_file) is dropped: the
// certificate is the door's identity.
var mqttKept = []string{"batch_size", "max_in_flight", "retransmit", "status_interval", "keepalive", "max_reconnect", "snapshot_wait",
	"renew_retry", "watchdog"}

// Config returns the door's configuration with the settings: base's
// settings (an existing configuration: pins, timings, policy) are kept,
// and door_id, data_dir, [whitelist] keys and [mqtt] are set. With no base,
// a commented configuration for the sample wiring (scripts/pi) is written.
// The result is validated as the agent will read it.
func Config(base []byte, s Settings) ([]byte, error) {
	var out []byte
	var err error
	if len(bytes.TrimSpace(base)) == 0 {
		out, err = fresh(s)
	} else {
		out, err = merge(base, s)
	}
	if err != nil {
		return nil, err
	}
	if _, err := agent.Parse(out); err != nil {
		return nil, fmt.Errorf("the configuration would not load: %w", err)
	}
	return out, nil
}

func merge(base []byte, s Settings) ([]byte, error) {
	var m map[string]any
	if _, err := toml.Decode(string(base), &m); err != nil {
		return nil, fmt.Errorf("the existing configuration: %w", err)
	}
	m["door_id"] = s.Door
	m["data_dir"] = s.DataDir
	wl, _ := m["whitelist"].(map[string]any)
	if wl == nil {
		wl = map[string]any{}
	}
	wl["keys"] = s.SigningKeys
	m["whitelist"] = wl
	old, _ := m["mqtt"].(map[string]any)
	mq := map[string]any{"broker": s.Broker, "ca_file": s.Files.CA, "cert_file": s.Files.Cert, "key_file": s.Files.Key}
	for _, k := range mqttKept {
		if v, ok := old[k]; ok {
			mq[k] = v
		}
	}
	if s.TopicPrefix != "" {
		mq["topic_prefix"] = s.TopicPrefix
	}
	m["mqtt"] = mq
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by swc-edge provision at %s for door %s, enrolled at %s.\n"+
		"# Settings of the previous file were kept (its comments were not: see the .bak copy).\n"+
		"# door_id, data_dir, [whitelist] keys and [mqtt] come from the enrollment.\n\n",
		s.Time.UTC().Format(time.RFC3339), s.Door, s.Central)
	if err := toml.NewEncoder(&b).Encode(m); err != nil {
		return nil, fmt.Errorf("encoding the configuration: %w", err)
	}
	return b.Bytes(), nil
}

var freshTmpl = template.Must(template.New("swc-edge.toml").Funcs(template.FuncMap{"q": tomlString}).Parse(`# swc-edge configuration, written by swc-edge provision at {{.Time}} for door
# {{.Door}}, enrolled at {{.Central}}.
# The pins are those of the sample wiring (scripts/pi/README.md): check them
# against yours, then run "swc-edge check". Every key, with its default, is
# in the example configuration shipped with the package
# (/usr/share/doc/swc-edge/swc-edge.toml.example).

door_id = {{q .Door}}
data_dir = {{q .DataDir}}

[reader]
# "mfrc522": an RC522 board on SPI0 CE0 (/dev/spidev0.0), RST on GPIO25.
driver = "mfrc522"
spi_bus = 0
spi_device = 0
reset_pin = "GPIO25"

[door]
# Relay IN1 on GPIO5 (pulled up at boot: an active-low relay stays
# released, the strike locked, while the Pi boots).
lock_pin = "GPIO5"
lock_active_low = true
lock_type = "fail_secure"
unlock_time = "5s"
# Reed contact (closed when the door is shut) on GPIO6, exit button on
# GPIO13, both to GND. Empty a pin that is not fitted.
contact_pin = "GPIO6"
contact = "nc"
rex_pin = "GPIO13"
rex = "no"

[clock]
ntp = "adjtimex"

[whitelist]
# The central's signing keys, pinned at enrollment.
keys = [{{range $i, $k := .SigningKeys}}{{if $i}}, {{end}}{{q $k}}{{end}}]

[mqtt]
# The central's broker, over TLS with the door's own certificate (renewed
# over the connection before it expires).
broker = {{q .Broker}}
ca_file = {{q .Files.CA}}
cert_file = {{q .Files.Cert}}
key_file = {{q .Files.Key}}
{{- if .TopicPrefix}}
topic_prefix = {{q .TopicPrefix}}
{{- end}}
`))

func fresh(s Settings) ([]byte, error) {
	var b bytes.Buffer
	data := struct {
		Settings
		Time string
	}{s, s.Time.UTC().Format(time.RFC3339)}
	if err := freshTmpl.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
