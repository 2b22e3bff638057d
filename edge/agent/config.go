package agent

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/smartworkcenters/swc/edge/decide"
	"github.com/smartworkcenters/swc/edge/door"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// Reader drivers.
const (
	DriverMFRC522 = "mfrc522"
	DriverSim     = "sim"
)

// NTP modes: where the clock's synchronisation state comes from.
const (
	NTPAdjtimex     = "adjtimex"      // the kernel's STA_UNSYNC flag (systemd-timesyncd, chrony, ntpd)
	NTPAssumeSynced = "assume_synced" // trust the wall clock (development machines and tests)
	NTPNever        = "never"         // never trust the wall clock; only acknowledgements make it trusted
)

// DefaultListen is the local HTTP listener's default address.
const DefaultListen = "127.0.0.1:7780"

// Config is the agent's TOML configuration file. Every key is listed in
// scripts/pi/swc-edge.toml with its default and allowed values.
type Config struct {
	DoorID    string          `toml:"door_id"`
	DataDir   string          `toml:"data_dir"`
	Reader    ReaderConfig    `toml:"reader"`
	Door      DoorConfig      `toml:"door"`
	Policy    PolicyConfig    `toml:"policy"`
	Clock     ClockConfig     `toml:"clock"`
	Whitelist WhitelistConfig `toml:"whitelist"`
	HTTP      HTTPConfig      `toml:"http"`
	Store     StoreConfig     `toml:"store"`
	Log       LogConfig       `toml:"log"`
	Sim       SimConfig       `toml:"sim"`

	// Path is the file the configuration was read from.
	Path string `toml:"-"`
	// Warnings are problems that do not stop the agent, such as a relay pin
	// that energises the relay while the Pi boots.
	Warnings []string `toml:"-"`

	extra     map[string]toml.Primitive
	extraMeta toml.MetaData
}

// ReaderConfig is [reader].
type ReaderConfig struct {
	Driver     string `toml:"driver"`
	SPIBus     int    `toml:"spi_bus"`
	SPIDevice  int    `toml:"spi_device"`
	SPISpeedHz int64  `toml:"spi_speed_hz"`
	ResetPin   string `toml:"reset_pin"`
	IRQPin     string `toml:"irq_pin"`
}

// DoorConfig is [door]: the door's pins and timings.
type DoorConfig struct {
	LockPin       string        `toml:"lock_pin"`
	LockActiveLow bool          `toml:"lock_active_low"`
	LockType      string        `toml:"lock_type"`
	UnlockTime    time.Duration `toml:"unlock_time"`
	// HeldOpenTime is the door's own held-open threshold: in force until a
	// whitelist carries the network's (settings alerts.held_open_seconds,
	// protocol.Whitelist.HeldOpenS), and again after one without it.
	HeldOpenTime    time.Duration `toml:"held_open_time"`
	ContactPin      string        `toml:"contact_pin"`
	Contact         string        `toml:"contact"`
	REXPin          string        `toml:"rex_pin"`
	REX             string        `toml:"rex"`
	InputPull       string        `toml:"input_pull"`
	InputDebounce   time.Duration `toml:"input_debounce"`
	BuzzerPin       string        `toml:"buzzer_pin"`
	BuzzerActiveLow bool          `toml:"buzzer_active_low"`
	LEDPin          string        `toml:"led_pin"`
	LEDActiveLow    bool          `toml:"led_active_low"`
}

// PolicyConfig is [policy]: the access rules' settings.
type PolicyConfig struct {
	Grace           time.Duration `toml:"grace"`
	MaxWhitelistAge time.Duration `toml:"max_whitelist_age"`
	Debounce        time.Duration `toml:"debounce"`
	UntrustedClock  string        `toml:"untrusted_clock"`
}

// ClockConfig is [clock].
type ClockConfig struct {
	NTP string `toml:"ntp"`
}

// WhitelistConfig is [whitelist].
type WhitelistConfig struct {
	// Keys are the pinned central signing keys, "ed25519:<base64>".
	Keys []string `toml:"keys"`
}

// HTTPConfig is [http].
type HTTPConfig struct {
	Listen string `toml:"listen"`
}

// StoreConfig is [store].
type StoreConfig struct {
	OpenTimeout time.Duration `toml:"open_timeout"`
	OutboxAlarm uint64        `toml:"outbox_alarm"`
}

// LogConfig is [log].
type LogConfig struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// SimConfig is [sim]: knobs of the simulated hardware (driver = "sim").
type SimConfig struct {
	// ReaderFaultAtStart makes the simulated reader not answer at start,
	// to try what a technician sees with a badly wired reader.
	ReaderFaultAtStart bool `toml:"reader_fault_at_start"`
	// ReaderVersion is the simulated chip's VersionReg (0: a genuine
	// MFRC522 v2.0, 0x92; 0x12 a common counterfeit; others an unknown chip).
	ReaderVersion int `toml:"reader_version"`
	// ReaderSelfTestFails makes the simulated chip fail its digital
	// self-test, as a damaged chip does.
	ReaderSelfTestFails bool `toml:"reader_self_test_fails"`
}

// Defaults returns a configuration with every default filled in.
func Defaults() Config {
	p := decide.DefaultPolicy()
	return Config{
		Reader: ReaderConfig{Driver: DriverMFRC522, SPISpeedHz: 1_000_000, ResetPin: "GPIO25"},
		Door: DoorConfig{LockActiveLow: true, LockType: string(door.FailSecure), UnlockTime: door.DefaultUnlock,
			HeldOpenTime: door.DefaultHeldOpen, Contact: string(door.NormallyClosed), REX: string(door.NormallyOpen),
			InputPull: "up", InputDebounce: door.DefaultDebounce},
		Policy:  PolicyConfig{Grace: p.Grace, MaxWhitelistAge: p.MaxWhitelistAge, Debounce: p.Debounce, UntrustedClock: string(p.UntrustedClock)},
		Clock:   ClockConfig{NTP: NTPAdjtimex},
		HTTP:    HTTPConfig{Listen: DefaultListen},
		Store:   StoreConfig{OpenTimeout: store.DefaultOpenTimeout, OutboxAlarm: store.DefaultOutboxAlarm},
		Log:     LogConfig{Level: "info", Format: "text"},
		DataDir: "/var/lib/swc-edge",
	}
}

// durationKeys are the keys holding durations, which must be strings (a
// bare TOML integer would silently mean nanoseconds).
var durationKeys = [][]string{
	{"door", "unlock_time"}, {"door", "held_open_time"}, {"door", "input_debounce"},
	{"policy", "grace"}, {"policy", "max_whitelist_age"}, {"policy", "debounce"},
	{"store", "open_timeout"},
}

// ExtraSections returns the top-level sections the agent leaves to
// components started from configuration (see Component): [mqtt] for the
// sync.
func ExtraSections() []string { return []string{"mqtt"} }

// Load reads and validates the configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// Parse decodes and validates a configuration. Errors name the key and the
// allowed values; all problems found are reported together.
func Parse(data []byte) (*Config, error) {
	cfg := Defaults()
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return nil, tomlError(err)
	}
	var errs []error
	for _, k := range durationKeys {
		if md.IsDefined(k...) && md.Type(k...) != "String" {
			errs = append(errs, fmt.Errorf("%s: write durations as a string with a unit, such as \"5s\", \"50ms\" or \"15m\"", strings.Join(k, ".")))
		}
	}
	for _, k := range md.Undecoded() {
		if slices.Contains(ExtraSections(), k[0]) {
			continue
		}
		errs = append(errs, fmt.Errorf("unknown key %q (check its spelling and section; the sample swc-edge.toml lists every key)", k.String()))
	}
	var raw map[string]toml.Primitive
	if cfg.extraMeta, err = toml.Decode(string(data), &raw); err != nil {
		return nil, tomlError(err)
	}
	cfg.extra = map[string]toml.Primitive{}
	for _, name := range ExtraSections() {
		if p, ok := raw[name]; ok {
			if cfg.extraMeta.Type(name) != "Hash" {
				errs = append(errs, fmt.Errorf("%s: want a [%s] section", name, name))
				continue
			}
			cfg.extra[name] = p
		}
	}
	errs = append(errs, cfg.validate()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &cfg, nil
}

// tomlError keeps the parser's line and key but drops its Go type names.
func tomlError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
	}
	return err
}

// HasSection reports whether an extra section (see ExtraSections) is present.
func (c *Config) HasSection(name string) bool {
	_, ok := c.extra[name]
	return ok
}

// DecodeSection decodes an extra section into v and refuses keys v does not
// have, naming them. It is how a component reads its own settings.
func (c *Config) DecodeSection(name string, v any) error {
	p, ok := c.extra[name]
	if !ok {
		return fmt.Errorf("config: no [%s] section", name)
	}
	if err := c.extraMeta.PrimitiveDecode(p, v); err != nil {
		return fmt.Errorf("config [%s]: %w", name, tomlError(err))
	}
	var errs []error
	for _, k := range c.extraMeta.Undecoded() {
		if k[0] == name {
			errs = append(errs, fmt.Errorf("unknown key %q", k.String()))
		}
	}
	return errors.Join(errs...)
}

var pinRE = regexp.MustCompile(`^GPIO([0-9]|1[0-9]|2[0-7])$`)

// spiPins are the header GPIOs each SPI bus uses, by function.
var spiPins = map[int]map[int]string{
	0: {7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK"},
	1: {16: "SPI1 CE2", 17: "SPI1 CE1", 18: "SPI1 CE0", 19: "SPI1 MISO", 20: "SPI1 MOSI", 21: "SPI1 SCLK"},
}

func pinNumber(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, "GPIO"))
	return n
}

func oneOf(key, got string, allowed ...string) error {
	if slices.Contains(allowed, got) {
		return nil
	}
	return fmt.Errorf("%s = %q: want one of %q", key, got, allowed)
}

func (c *Config) validate() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.DoorID == "" {
		add(errors.New("door_id is missing: set it to the door's id from the central service, such as \"door-1\""))
	} else if err := protocol.ValidID(c.DoorID); err != nil {
		add(fmt.Errorf("door_id = %q: %w", c.DoorID, err))
	}
	if c.DataDir == "" {
		add(errors.New("data_dir is empty: want a folder for the agent's database, such as \"/var/lib/swc-edge\""))
	}

	r := &c.Reader
	add(oneOf("reader.driver", r.Driver, DriverMFRC522, DriverSim))
	if r.SPIBus < 0 || r.SPIBus > 1 {
		add(fmt.Errorf("reader.spi_bus = %d: want 0 (SPI0, header pins 19/21/23/24) or 1 (SPI1)", r.SPIBus))
	}
	if r.SPIDevice < 0 || r.SPIDevice > 2 || (r.SPIBus == 0 && r.SPIDevice > 1) {
		add(fmt.Errorf("reader.spi_device = %d: want 0 (CE0) or 1 (CE1) on SPI0, 0 to 2 on SPI1", r.SPIDevice))
	}
	if r.SPISpeedHz < 100_000 || r.SPISpeedHz > 10_000_000 {
		add(fmt.Errorf("reader.spi_speed_hz = %d: want 100000 to 10000000 (the MFRC522 allows 10 MHz; 1000000 is safe with long wires)", r.SPISpeedHz))
	}

	d := &c.Door
	pins := map[string]string{} // pin → key using it
	checkPin := func(key, pin string, required bool) {
		if pin == "" {
			if required {
				add(fmt.Errorf("%s is missing: want the GPIO driving it, such as \"GPIO5\"", key))
			}
			return
		}
		if !pinRE.MatchString(pin) {
			add(fmt.Errorf("%s = %q: want a Broadcom GPIO name GPIO0 to GPIO27, such as \"GPIO5\" (not a header pin number)", key, pin))
			return
		}
		if other, ok := pins[pin]; ok {
			add(fmt.Errorf("%s = %q: already used by %s", key, pin, other))
			return
		}
		pins[pin] = key
		if fn, ok := spiPins[r.SPIBus][pinNumber(pin)]; ok {
			add(fmt.Errorf("%s = %q: that GPIO is %s, used by the reader; pick another", key, pin, fn))
		}
	}
	checkPin("door.lock_pin", d.LockPin, true)
	checkPin("door.contact_pin", d.ContactPin, false)
	checkPin("door.rex_pin", d.REXPin, false)
	checkPin("door.buzzer_pin", d.BuzzerPin, false)
	checkPin("door.led_pin", d.LEDPin, false)
	checkPin("reader.reset_pin", r.ResetPin, false)
	checkPin("reader.irq_pin", r.IRQPin, false)
	add(oneOf("door.lock_type", d.LockType, string(door.FailSecure), string(door.FailSafe)))
	if d.UnlockTime < time.Second || d.UnlockTime > door.MaxUnlock {
		add(fmt.Errorf("door.unlock_time = %v: want 1s to 30s, such as \"5s\"", d.UnlockTime))
	}
	if d.HeldOpenTime < time.Second || d.HeldOpenTime > time.Hour {
		add(fmt.Errorf("door.held_open_time = %v: want 1s to 1h, such as \"30s\"", d.HeldOpenTime))
	}
	add(oneOf("door.contact", d.Contact, string(door.NormallyClosed), string(door.NormallyOpen)))
	add(oneOf("door.rex", d.REX, string(door.NormallyOpen), string(door.NormallyClosed)))
	add(oneOf("door.input_pull", d.InputPull, "up", "down", "none"))
	if d.InputDebounce < 0 || d.InputDebounce > time.Second {
		add(fmt.Errorf("door.input_debounce = %v: want 0s to 1s, such as \"50ms\"", d.InputDebounce))
	}
	if d.LockPin != "" && pinRE.MatchString(d.LockPin) && r.Driver == DriverMFRC522 {
		if w := bootWarning(d); w != "" {
			c.Warnings = append(c.Warnings, w)
		}
	}

	if p := c.policy(); p.Validate() != nil {
		add(p.Validate())
	}
	add(oneOf("clock.ntp", c.Clock.NTP, NTPAdjtimex, NTPAssumeSynced, NTPNever))
	for i, k := range c.Whitelist.Keys {
		if _, err := protocol.ParsePublicKey(k); err != nil {
			add(fmt.Errorf("whitelist.keys[%d]: %w", i, err))
		}
	}
	if len(c.Whitelist.Keys) == 0 {
		c.Warnings = append(c.Warnings, "whitelist.keys is empty: no signed whitelist can be loaded, so every badge is denied (denied_no_whitelist)")
	}
	if host, port, err := net.SplitHostPort(c.HTTP.Listen); err != nil || port == "" {
		add(fmt.Errorf("http.listen = %q: want host:port, such as %q", c.HTTP.Listen, DefaultListen))
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		c.Warnings = append(c.Warnings, fmt.Sprintf("http.listen = %q is not a loopback address: /metrics and the local API are reachable from the network", c.HTTP.Listen))
	}
	if c.Store.OpenTimeout < 100*time.Millisecond || c.Store.OpenTimeout > 5*time.Minute {
		add(fmt.Errorf("store.open_timeout = %v: want 100ms to 5m, such as \"5s\"", c.Store.OpenTimeout))
	}
	if c.Store.OutboxAlarm < 1000 {
		add(fmt.Errorf("store.outbox_alarm = %d: want at least 1000 events (default %d, 30 days offline at 2,000 taps a day with room to spare)", c.Store.OutboxAlarm, store.DefaultOutboxAlarm))
	}
	add(oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error"))
	add(oneOf("log.format", c.Log.Format, "text", "json"))
	if c.Sim.ReaderFaultAtStart && r.Driver != DriverSim {
		add(errors.New("sim.reader_fault_at_start needs reader.driver = \"sim\""))
	}
	if c.Sim.ReaderVersion < 0 || c.Sim.ReaderVersion > 0xFF {
		add(fmt.Errorf("sim.reader_version = %d: want 0 to 255 (0: 0x92, a genuine MFRC522 v2.0)", c.Sim.ReaderVersion))
	}
	if (c.Sim.ReaderVersion != 0 || c.Sim.ReaderSelfTestFails) && r.Driver != DriverSim {
		add(errors.New("sim.reader_version and sim.reader_self_test_fails need reader.driver = \"sim\""))
	}
	return errs
}

// bootWarning tells whether the lock would be unlocked while the Pi boots,
// before the agent drives the relay: GPIO0-8 are pulled up at boot and
// GPIO9-27 pulled down (BCM2835 datasheet defaults).
func bootWarning(d *DoorConfig) string {
	n := pinNumber(d.LockPin)
	pinHighAtBoot := n <= 8
	energised := pinHighAtBoot != d.LockActiveLow // active-high relay on a high pin, or active-low on a low one
	unlocked := energised
	if d.LockType == string(door.FailSafe) {
		unlocked = !energised
	}
	if !unlocked {
		return ""
	}
	level := "pulled down"
	if pinHighAtBoot {
		level = "pulled up"
	}
	return fmt.Sprintf("door.lock_pin = %q is %s while the Pi boots, so this %s lock (lock_active_low = %v) is UNLOCKED until swc-edge starts: "+
		"move the relay to a GPIO that keeps it released at boot (active-low relay: GPIO0-8, such as GPIO5 or GPIO6; active-high relay: GPIO9-27 not used by the reader) or fit a resistor that holds it released",
		d.LockPin, level, d.LockType, d.LockActiveLow)
}

func (c *Config) policy() decide.Policy {
	return decide.Policy{Grace: c.Policy.Grace, MaxWhitelistAge: c.Policy.MaxWhitelistAge, Debounce: c.Policy.Debounce, UntrustedClock: decide.UntrustedClock(c.Policy.UntrustedClock)}
}

// DecidePolicy returns the access-rule settings.
func (c *Config) DecidePolicy() decide.Policy { return c.policy() }

// DBPath is the database file in the data folder.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "swc-edge.db") }

// KeyRing returns the pinned central keys (validated by Parse).
func (c *Config) KeyRing() *protocol.KeyRing {
	var keys []ed25519.PublicKey
	for _, k := range c.Whitelist.Keys {
		if pub, err := protocol.ParsePublicKey(k); err == nil {
			keys = append(keys, pub)
		}
	}
	return protocol.NewKeyRing(keys...)
}

// StoreOptions returns the options to open the store with.
func (c *Config) StoreOptions() store.Options {
	return store.Options{Door: c.DoorID, OpenTimeout: c.Store.OpenTimeout, OutboxAlarm: c.Store.OutboxAlarm}
}
