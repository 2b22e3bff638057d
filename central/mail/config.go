// Package mail sends the central's e-mail (sign-in codes, booking
// confirmations with their .ics, no-show notices, staff invitations,
// password resets, door alerts) through a configured SMTP relay, by way of a
// durable outbox in the store.
//
// A caller composes a Message and enqueues it with an idempotency key, in
// its own flow; the Outbox's sender loop (started by central/server when a
// relay is configured) delivers it, retrying with exponential backoff across
// relay outages and restarts:
//
//	att := mail.Attachment{Filename: "booking.ics", ContentType: calendar.ContentType(calendar.MethodRequest), Data: ics}
//	id, queued, err := srv.Mail.Enqueue(ctx, "booking:"+b.ID+":confirmed:"+strconv.Itoa(seq), mail.Message{
//		To: member.Email, Subject: "Réservation confirmée", Text: body, Attachments: []mail.Attachment{att}})
//
// The same key enqueued again is not sent again (queued is false). Delivery
// is at least once: a replica that dies between the relay's acceptance and
// the record of it leaves the mail to be sent again, with the same
// Message-ID, so that mail clients show it once.
//
// Tests send to a real SMTP server in-process: see package mailtest.
package mail

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"os"
	"strconv"
	"strings"
)

// Security is how the connection to the relay is protected.
type Security string

// Security modes.
const (
	// StartTLS connects in the clear and upgrades with STARTTLS before
	// anything else; a relay that does not offer it is refused (default,
	// port 587).
	StartTLS Security = "starttls"
	// ImplicitTLS speaks TLS from the first byte (port 465).
	ImplicitTLS Security = "tls"
	// None sends in the clear: allowed only to a loopback relay (a local
	// MTA or a test server).
	None Security = "none"
)

// Config is how the central reaches its SMTP relay. The zero Config is
// mail disabled.
type Config struct {
	Host     string   // relay host name or IP address; "" disables mail
	Port     int      // default 587 for starttls and none, 465 for tls
	Security Security // default StartTLS
	Username string   // "" for no authentication (AUTH PLAIN otherwise)
	// PasswordFile holds the password (its first line); it is read by
	// Validate and never taken from the command line.
	PasswordFile string
	From         string // the From address, RFC 5322: "Smart Work Centers <noreply@example.org>"
	CAFile       string // PEM CA certificates to check the relay's certificate against (default: the system's)

	password string
	from     *mail.Address
	roots    *x509.CertPool
}

// Enabled reports whether a relay is configured.
func (c *Config) Enabled() bool { return c.Host != "" }

// Required returns an error, naming the flags to set, when no relay is
// configured; reason says which feature needs mail ("member sign-in by
// e-mail code"). The central calls it at start-up for each feature that
// sends mail.
func (c *Config) Required(reason string) error {
	if c.Enabled() {
		return nil
	}
	return fmt.Errorf("%s needs e-mail: configure the SMTP relay with --smtp-host, --smtp-port, --smtp-security, --smtp-user, --smtp-password-file and --mail-from", reason)
}

// FieldError is a configuration error about one field (its flag name).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks the configuration, fills defaults, reads the password
// file and the CA file. Errors are *FieldError naming the serve flag.
// A disabled Config is valid when nothing else is set.
func (c *Config) Validate() error {
	if !c.Enabled() {
		if c.Username != "" || c.PasswordFile != "" || c.From != "" || c.CAFile != "" || c.Port != 0 || c.Security != "" {
			return fieldErr("smtp-host", "required when other --smtp-* or --mail-from flags are given")
		}
		return nil
	}
	if strings.ContainsAny(c.Host, " \t\r\n/:@") && net.ParseIP(c.Host) == nil {
		return fieldErr("smtp-host", "%q is not a host name or IP address", c.Host)
	}
	if c.Security == "" {
		c.Security = StartTLS
	}
	switch c.Security {
	case StartTLS, ImplicitTLS:
	case None:
		if !isLoopback(c.Host) {
			return fieldErr("smtp-security", "none (no TLS) is allowed only to a loopback relay (localhost, 127.0.0.1, ::1), not %q", c.Host)
		}
	default:
		return fieldErr("smtp-security", "%q; want starttls, tls or none", c.Security)
	}
	if c.Port == 0 {
		c.Port = 587
		if c.Security == ImplicitTLS {
			c.Port = 465
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return fieldErr("smtp-port", "%d; want 1 to 65535", c.Port)
	}
	from, err := parseFrom(c.From)
	if err != nil {
		return err
	}
	c.from = from
	if c.Username != "" {
		if strings.ContainsAny(c.Username, "\x00\r\n") {
			return fieldErr("smtp-user", "holds a control character")
		}
		if c.PasswordFile == "" {
			return fieldErr("smtp-password-file", "required with --smtp-user: a file holding the relay password")
		}
	}
	if c.PasswordFile != "" {
		if c.Username == "" {
			return fieldErr("smtp-user", "required with --smtp-password-file")
		}
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return fieldErr("smtp-password-file", "%v", err)
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
		if pw == "" {
			return fieldErr("smtp-password-file", "%s is empty", c.PasswordFile)
		}
		c.password = pw
	}
	if c.CAFile != "" {
		if c.Security == None {
			return fieldErr("smtp-ca", "given, but --smtp-security is none")
		}
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return fieldErr("smtp-ca", "%v", err)
		}
		c.roots = x509.NewCertPool()
		if !c.roots.AppendCertsFromPEM(pem) {
			return fieldErr("smtp-ca", "%s holds no PEM certificate", c.CAFile)
		}
	}
	return nil
}

// parseFrom checks a From address (--mail-from).
func parseFrom(s string) (*mail.Address, error) {
	if s == "" {
		return nil, fieldErr("mail-from", "required: the From address of the central's mail, such as \"Smart Work Centers <noreply@example.org>\"")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fieldErr("mail-from", "holds a line break")
	}
	from, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fieldErr("mail-from", "%q is not an RFC 5322 address: %v", s, err)
	}
	if !strings.Contains(from.Address, "@") || strings.HasSuffix(from.Address, "@") {
		return nil, fieldErr("mail-from", "%q has no domain", s)
	}
	return from, nil
}

// FromAddress returns the validated From address (after Validate).
func (c *Config) FromAddress() *mail.Address { return c.from }

// Addr returns host:port.
func (c *Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

func (c *Config) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: c.Host, RootCAs: c.roots, MinVersion: tls.VersionTLS12}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ErrDisabled is returned for a disabled Config, and by Enqueue on a nil
// *Outbox (the central's Server.Mail without --smtp-host).
var ErrDisabled = errors.New("mail: no SMTP relay configured (--smtp-host)")
