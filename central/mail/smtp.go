package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Relay sends composed messages to the configured SMTP relay, one
// connection per message (the central sends a few mails a minute; a pooled
// connection would only add a state to recover from).
//
// It uses the client of github.com/emersion/go-smtp rather than net/smtp:
// the standard library's package is frozen, has no command timeouts, and the
// same module already provides the test server (mailtest).
type Relay struct {
	cfg     Config
	timeout time.Duration
	helo    string
}

// NewRelay returns a Relay for a validated, enabled Config. timeout bounds
// each attempt (0: one minute).
func NewRelay(cfg Config, timeout time.Duration) (*Relay, error) {
	if !cfg.Enabled() {
		return nil, ErrDisabled
	}
	if cfg.from == nil {
		return nil, errors.New("mail: Config.Validate was not called")
	}
	if timeout <= 0 {
		timeout = time.Minute
	}
	helo, err := os.Hostname()
	if err != nil || helo == "" {
		helo = "localhost"
	}
	return &Relay{cfg: cfg, timeout: timeout, helo: helo}, nil
}

// PermanentError is a refusal by the relay that another attempt would not
// change (a 5xx reply to the sender, a recipient or the message).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "refused for good: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Send delivers msg to rcpt. Connection, TLS and authentication failures
// and 4xx replies are temporary; a 5xx reply to MAIL, RCPT or DATA is a
// *PermanentError.
func (r *Relay) Send(ctx context.Context, rcpt string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	d := net.Dialer{}
	var conn net.Conn
	var err error
	if r.cfg.Security == ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: r.cfg.tlsConfig()}).DialContext(ctx, "tcp", r.cfg.Addr())
	} else {
		conn, err = d.DialContext(ctx, "tcp", r.cfg.Addr())
	}
	if err != nil {
		return fmt.Errorf("connect to relay %s: %w", r.cfg.Addr(), err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) }) // cancellation ends the conversation
	defer stop()
	var c *smtp.Client
	if r.cfg.Security == StartTLS {
		// The greeting before the upgrade names "localhost"; the one
		// after it, which the relay acts on, the host name.
		c, err = smtp.NewClientStartTLS(conn, r.cfg.tlsConfig())
		if err != nil {
			conn.Close()
			return fmt.Errorf("relay %s: STARTTLS (required by --smtp-security starttls): %w", r.cfg.Addr(), err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = r.timeout, r.timeout
	if err := c.Hello(r.helo); err != nil {
		return fmt.Errorf("relay %s: %w", r.cfg.Addr(), err)
	}
	if r.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("relay %s does not offer AUTH (--smtp-user is set)", r.cfg.Addr())
		}
		if err := c.Auth(sasl.NewPlainClient("", r.cfg.Username, r.cfg.password)); err != nil {
			return fmt.Errorf("relay %s: authenticate as %s: %w", r.cfg.Addr(), r.cfg.Username, err)
		}
	}
	if err := c.SendMail(r.cfg.from.Address, []string{rcpt}, bytes.NewReader(msg)); err != nil {
		err = fmt.Errorf("relay %s: send to %s: %w", r.cfg.Addr(), rcpt, err)
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code/100 == 5 {
			return &PermanentError{Err: err}
		}
		return err
	}
	if err := c.Quit(); err != nil {
		// The message was accepted (DATA answered 250): a failed QUIT
		// does not make it undelivered.
		return nil
	}
	return nil
}
