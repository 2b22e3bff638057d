package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/edge/selftest"
	"github.com/smartworkcenters/swc/edge/store"
	"github.com/smartworkcenters/swc/edge/sync"
)

// Results of a check line.
const (
	checkOK   = "OK"
	checkWarn = "WARN"
	checkFail = "FAIL"
	checkSkip = "SKIP"
)

// checkLine is one line of `swc-edge check`: what was checked, its result
// and, when it is not OK, what to do.
type checkLine struct {
	result, what, do string
}

func (l checkLine) print(w io.Writer) {
	fmt.Fprintf(w, "%-4s  %s\n", l.result, l.what)
	if l.do != "" {
		fmt.Fprintf(w, "      -> %s\n", l.do)
	}
}

// doorCheck is what `swc-edge check` looks at, beyond the configuration.
type doorCheck struct {
	cfg      *agent.Config
	now      time.Time
	certDays int
	timeout  time.Duration
	log      io.Writer // where the hardware's own log lines go
}

// cmdCheck checks what a technician needs: the configuration, the reader,
// the pins, the door's certificate, the broker, the clock and the
// whitelist. Every line says OK or what to do; the status is 1 when a
// line failed.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var certDays *int
	var timeout *time.Duration
	cfg, _, code := loadConfig("check", args, false, stdout, stderr, func(fs flags) {
		certDays = fs.Int("cert-days", 14, "fail when the door's certificate expires within this many days")
		timeout = fs.Duration("timeout", 10*time.Second, "how long the broker has to accept the connection")
	})
	if cfg == nil {
		return code
	}
	c := &doorCheck{cfg: cfg, now: time.Now(), certDays: *certDays, timeout: *timeout, log: stderr}
	failed := false
	for _, l := range c.run(ctx) {
		l.print(stdout)
		failed = failed || l.result == checkFail
	}
	if failed {
		return 1
	}
	return 0
}

func (c *doorCheck) run(ctx context.Context) []checkLine {
	lines := []checkLine{{checkOK, fmt.Sprintf("configuration %s: door %s, reader %s", c.cfg.Path, c.cfg.DoorID, c.cfg.Reader.Driver), ""}}
	for _, w := range c.cfg.Warnings {
		lines = append(lines, checkLine{checkWarn, "configuration: " + w, ""})
	}
	agentRuns := running(ctx, c.cfg)
	if agentRuns {
		lines = append(lines, checkLine{checkSkip, "reader and pins: the door agent is running and holds them",
			"to check them, stop it first (sudo systemctl stop swc-edge), run swc-edge check, then start it again"})
	} else {
		lines = append(lines, c.hardware(ctx)...)
	}
	lines = append(lines, c.certificate()...)
	if agentRuns {
		lines = append(lines, checkLine{checkSkip, "broker: the door agent is running and holds the door's MQTT session",
			"`swc-edge status` shows whether it is connected; stop the agent to test the connection here"})
	} else {
		lines = append(lines, c.broker(ctx))
	}
	return append(lines, c.clockAndWhitelist(ctx, agentRuns)...)
}

// hardware opens the reader and the pins as the agent would (the
// configuration has already refused pin names that are no Broadcom GPIO,
// and pins of the reader's SPI bus), and asks the reader's chip for its
// version register.
func (c *doorCheck) hardware(ctx context.Context) []checkLine {
	d := c.cfg.Door
	var lines []checkLine
	log, err := newLogger(c.cfg.Log, "", c.log)
	if err != nil {
		return append(lines, checkLine{checkFail, "logging: " + err.Error(), "fix [log] in the configuration"})
	}
	hw, err := openCheckHardware(c.cfg, log)
	if err != nil {
		return append(lines, checkLine{checkFail, "pins: the door's GPIOs cannot be opened: " + err.Error(),
			"this must be a Raspberry Pi with /dev/gpiomem; the user must be in the group gpio; the pins of [door] are Broadcom names (GPIO5, not header pin 29)"})
	}
	defer hw.close()
	pins := []string{"lock relay " + pinText(d.LockPin)}
	if d.ContactPin != "" {
		pins = append(pins, "door contact "+pinText(d.ContactPin))
	}
	if d.REXPin != "" {
		pins = append(pins, "exit button "+pinText(d.REXPin))
	}
	lines = append(lines, checkLine{checkOK, "pins: " + strings.Join(pins, ", ") + " opened", ""})

	w := selftest.Wiring{SPIBus: c.cfg.Reader.SPIBus, SPIDevice: c.cfg.Reader.SPIDevice, ResetPin: c.cfg.Reader.ResetPin, IRQPin: c.cfg.Reader.IRQPin}
	where := fmt.Sprintf("reader on SPI%d.%d (%s)", w.SPIBus, w.SPIDevice, w.Device())
	if hw.reader == nil {
		return append(lines, checkLine{checkFail, where + " cannot be opened: " + fmt.Sprint(hw.readerErr), strings.Join(w.SPIHints(), "; ")})
	}
	vctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := hw.reader.Version(vctx)
	switch {
	case err != nil:
		return append(lines, checkLine{checkFail, where + " does not answer: " + err.Error(), strings.Join(append(w.WiringHints(), w.SPIHints()...), "; ")})
	case v == 0x00 || v == 0xFF:
		return append(lines, checkLine{checkFail, fmt.Sprintf("%s: VersionReg reads %#02x, nothing answers on the SPI bus", where, byte(v)),
			strings.Join(append(w.WiringHints(), w.SPIHints()...), "; ")})
	case !v.Known():
		return append(lines, checkLine{checkFail, fmt.Sprintf("%s answers with version %#02x, which no MFRC522 or known clone has", where, byte(v)),
			"a loose or swapped MISO/MOSI/SCK wire garbles what is read: reseat them; `swc-edge test reader` says more"})
	}
	return append(lines, checkLine{checkOK, fmt.Sprintf("%s answers: %s", where, v), ""})
}

// pinText is "GPIO5 (header pin 29)".
func pinText(name string) string {
	if h := selftest.HeaderPin(name); h != "" {
		return name + " (" + h + ")"
	}
	return name
}

// mqttConfig is the [mqtt] section, or nil when the door has none.
func (c *doorCheck) mqttConfig() (*sync.Config, error) {
	if !c.cfg.HasSection("mqtt") {
		return nil, nil
	}
	var m sync.Config
	if err := c.cfg.DecodeSection("mqtt", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// certificate checks the door's client certificate: readable, matching
// its key, signed by the CA, valid now and for certDays more.
func (c *doorCheck) certificate() []checkLine {
	m, err := c.mqttConfig()
	switch {
	case err != nil:
		return []checkLine{{checkFail, "[mqtt]: " + err.Error(), "fix the [mqtt] section (swc-edge provision writes it)"}}
	case m == nil:
		return []checkLine{{checkWarn, "certificate: no [mqtt] section: the door works offline only", "enroll it with `swc-edge provision --central URL --token T`"}}
	case m.CertFile == "":
		return []checkLine{{checkSkip, "certificate: [mqtt] has no cert_file: the door signs in with a password", ""}}
	}
	renew := "keep the door online so it renews its certificate over MQTT, or enroll it again with `swc-edge provision` and a new token"
	pair, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
	if err != nil {
		return []checkLine{{checkFail, fmt.Sprintf("certificate %s: %v", m.CertFile, err), "enroll the door again with `swc-edge provision` and a new token"}}
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return []checkLine{{checkFail, fmt.Sprintf("certificate %s: %v", m.CertFile, err), renew}}
	}
	what := fmt.Sprintf("certificate %s (%s, valid until %s)", m.CertFile, cert.Subject.CommonName, cert.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	if m.CAFile != "" {
		if err := verifyWithCA(cert, m.CAFile, c.now); err != nil {
			return []checkLine{{checkFail, what + ": " + err.Error(), "enroll the door again with `swc-edge provision`: its certificate and CA file must come from the same central"}}
		}
	}
	left := cert.NotAfter.Sub(c.now)
	switch {
	case c.now.Before(cert.NotBefore):
		return []checkLine{{checkFail, what + ": not valid before " + cert.NotBefore.UTC().Format(time.RFC3339), "the clock of this Pi is behind: check NTP (timedatectl)"}}
	case left <= 0:
		return []checkLine{{checkFail, what + ": expired", renew}}
	case left < time.Duration(c.certDays)*24*time.Hour:
		return []checkLine{{checkFail, fmt.Sprintf("%s: expires in %s, within %d days", what, left.Round(time.Hour), c.certDays), renew}}
	}
	return []checkLine{{checkOK, what, ""}}
}

func verifyWithCA(cert *x509.Certificate, caFile string, now time.Time) error {
	data, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if block, _ := pem.Decode(data); block == nil || !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("ca_file %s: no PEM certificate in it", caFile)
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil && !errors.As(err, new(x509.CertificateInvalidError)) {
		return fmt.Errorf("not signed by the CA in %s: %w", caFile, err)
	}
	return nil // expiry is judged by the caller, with its own words
}

// broker connects to the broker as the door does (TLS with its
// certificate, or its password) and waits for the broker's CONNACK.
func (c *doorCheck) broker(ctx context.Context) checkLine {
	m, err := c.mqttConfig()
	if err != nil || m == nil {
		return checkLine{checkSkip, "broker: no usable [mqtt] section", ""}
	}
	what := "broker " + m.Broker
	opts := mqtt.NewClientOptions().AddBroker(m.Broker).SetClientID(c.cfg.DoorID).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(c.timeout)
	user := m.Username
	if user == "" {
		user = c.cfg.DoorID
	}
	opts.SetUsername(user)
	if m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return checkLine{checkFail, what + ": password_file: " + err.Error(), "enroll the door again with `swc-edge provision`"}
		}
		opts.SetPassword(strings.TrimSpace(string(b)))
	} else {
		opts.SetPassword(m.Password)
	}
	if m.CAFile != "" || m.CertFile != "" || strings.HasPrefix(m.Broker, "ssl") || strings.HasPrefix(m.Broker, "mqtts") || strings.HasPrefix(m.Broker, "tls") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if m.CAFile != "" {
			data, err := os.ReadFile(m.CAFile)
			if err != nil {
				return checkLine{checkFail, what + ": ca_file: " + err.Error(), "enroll the door again with `swc-edge provision`"}
			}
			tc.RootCAs = x509.NewCertPool()
			tc.RootCAs.AppendCertsFromPEM(data)
		}
		if m.CertFile != "" {
			pair, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
			if err != nil {
				return checkLine{checkFail, what + ": " + err.Error(), "enroll the door again with `swc-edge provision`"}
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		opts.SetTLSConfig(tc)
	}
	client := mqtt.NewClient(opts)
	tok := client.Connect()
	select {
	case <-tok.Done():
	case <-time.After(c.timeout + time.Second):
		return checkLine{checkFail, fmt.Sprintf("%s: no answer within %s", what, c.timeout), "check the network, the broker address and that port's firewall"}
	case <-ctx.Done():
		return checkLine{checkFail, what + ": interrupted", ""}
	}
	if err := tok.Error(); err != nil {
		return checkLine{checkFail, what + ": " + err.Error(),
			"check the broker runs and is reachable from this Pi (address, port, firewall); a refused certificate or password needs a new enrollment (`swc-edge provision`)"}
	}
	client.Disconnect(100)
	return checkLine{checkOK, what + ": connected as " + user, ""}
}

// clockAndWhitelist reports the door's clock trust and the whitelist's age
// against policy.max_whitelist_age, from the running agent or from the
// door's database.
func (c *doorCheck) clockAndWhitelist(ctx context.Context, agentRuns bool) []checkLine {
	var rep agent.Report
	if agentRuns {
		if err := newClient(c.cfg).do(ctx, http.MethodGet, "/v1/status", nil, &rep); err != nil {
			return []checkLine{{checkFail, "clock and whitelist: the agent's status: " + err.Error(), ""}}
		}
	} else {
		if _, err := os.Stat(c.cfg.DBPath()); err != nil {
			return []checkLine{{checkFail, "clock and whitelist: no database at " + c.cfg.DBPath() + " yet",
				"start the door (sudo systemctl start swc-edge) once it is enrolled: it receives its whitelist from the central"}}
		}
		st, err := store.Open(ctx, c.cfg.DBPath(), c.cfg.StoreOptions())
		if err != nil {
			return []checkLine{{checkFail, "clock and whitelist: " + err.Error(), ""}}
		}
		defer st.Close()
		floor, err := st.TrustedTime(ctx)
		if err != nil {
			return []checkLine{{checkFail, "clock: " + err.Error(), ""}}
		}
		r := agent.SystemClock(c.cfg.Clock.NTP, floor).Now()
		rep.Clock = agent.ClockReport{Time: r.Time, Trusted: r.Trusted, Source: r.Source}
		wi, err := st.Whitelist(ctx)
		if err != nil {
			return []checkLine{{checkFail, "whitelist: " + err.Error(), ""}}
		}
		rep.Whitelist = agent.WhitelistReport{Version: wi.Version, Issued: wi.Issued}
	}
	var lines []checkLine
	if rep.Clock.Trusted {
		lines = append(lines, checkLine{checkOK, fmt.Sprintf("clock: trusted (%s), %s", rep.Clock.Source, rep.Clock.Time.UTC().Format(time.RFC3339)), ""})
	} else {
		lines = append(lines, checkLine{checkFail, fmt.Sprintf("clock: not trusted (clock.ntp = %q): bookings are not honoured, only staff badges open", c.cfg.Clock.NTP),
			"let NTP synchronise the clock (`timedatectl` must say \"System clock synchronized: yes\"; enable systemd-timesyncd), or connect the door to the central, whose messages set a trusted time"})
	}
	horizon := c.cfg.Policy.MaxWhitelistAge
	switch {
	case rep.Whitelist.Version == 0:
		lines = append(lines, checkLine{checkFail, "whitelist: none loaded: no badge is known, the door opens for no one",
			"connect the door to the central (see the broker line) so it receives its whitelist, or load one with `swc-edge whitelist load`"})
	case c.now.Sub(rep.Whitelist.Issued) > horizon:
		lines = append(lines, checkLine{checkFail, fmt.Sprintf("whitelist: version %d issued %s ago, older than policy.max_whitelist_age (%s): only staff enter",
			rep.Whitelist.Version, c.now.Sub(rep.Whitelist.Issued).Round(time.Minute), horizon),
			"connect the door to the central (see the broker line): it sends a fresh whitelist"})
	default:
		lines = append(lines, checkLine{checkOK, fmt.Sprintf("whitelist: version %d issued %s ago (fresh within %s)", rep.Whitelist.Version, c.now.Sub(rep.Whitelist.Issued).Round(time.Second), horizon), ""})
	}
	return lines
}
