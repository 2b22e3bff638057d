// Package mailtest runs a real SMTP server (github.com/emersion/go-smtp) in
// the test's process, on a loopback port, and keeps every message it
// receives, parsed: headers, decoded subject, text and HTML parts,
// attachments. It speaks STARTTLS with a test certificate and AUTH PLAIN
// when asked. Only tests import it.
//
//	srv := mailtest.Start(t, mailtest.Options{TLS: true, Username: "swc", Password: "secret"})
//	cfg := srv.Config("Smart Work Centers <noreply@example.org>") // a mail.Config for it, validated
//	... enqueue and deliver ...
//	got := srv.Wait(t, 1)[0]
//	require.Equal(t, "Réservation confirmée", got.Subject)
//	require.Equal(t, "text/calendar", got.Attachments[0].MediaType)
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/smartworkcenters/swc/central/mail"
)

// Options choose what the server offers and requires.
type Options struct {
	// TLS offers STARTTLS with a certificate for 127.0.0.1 and localhost
	// from a CA of the test's own (CAFile), and refuses mail before it.
	TLS bool
	// ImplicitTLS speaks TLS from the first byte instead (port-465 style).
	ImplicitTLS bool
	// Username and Password, when set, require AUTH PLAIN with them.
	Username, Password string
	// Reject refuses these recipients for good (550), to test permanent
	// failures.
	Reject []string
}

// Server is a running test SMTP server.
type Server struct {
	Addr   string // 127.0.0.1:port
	Host   string
	Port   int
	CAFile string // PEM of the CA of the server's certificate ("" without TLS)

	opts Options
	tls  *tls.Config
	t    testing.TB

	mu       sync.Mutex
	srv      *smtp.Server
	messages []Message
	arrived  chan struct{}
}

// Message is one received message.
type Message struct {
	From     string   // the envelope sender
	To       []string // the envelope recipients
	AuthUser string   // who authenticated ("" for nobody)
	TLS      bool     // whether the session was encrypted
	Raw      []byte   // as received

	Header      netmail.Header
	Subject     string // decoded (RFC 2047)
	MessageID   string
	Text        string // the text/plain part, decoded
	HTML        string // the text/html part, decoded
	Attachments []Part
}

// Part is an attachment.
type Part struct {
	Filename  string
	MediaType string            // such as "text/calendar"
	Params    map[string]string // such as method=REQUEST, charset=UTF-8
	Data      []byte            // decoded
}

// Start starts a server on a free loopback port; it stops when the test
// ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{opts: opts, t: t, Host: "127.0.0.1", arrived: make(chan struct{}, 1)}
	if opts.TLS || opts.ImplicitTLS {
		s.tls, s.CAFile = testCert(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// Config returns a validated mail.Config that reaches this server as from.
func (s *Server) Config(from string) mail.Config {
	s.t.Helper()
	cfg := mail.Config{Host: s.Host, Port: s.Port, From: from, Security: mail.None, CAFile: s.CAFile}
	switch {
	case s.opts.ImplicitTLS:
		cfg.Security = mail.ImplicitTLS
	case s.opts.TLS:
		cfg.Security = mail.StartTLS
	}
	if s.opts.Username != "" {
		cfg.Username = s.opts.Username
		cfg.PasswordFile = filepath.Join(s.t.TempDir(), "smtp-password")
		if err := os.WriteFile(cfg.PasswordFile, []byte(s.opts.Password+"\n"), 0o600); err != nil {
			s.t.Fatalf("mailtest: %v", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		s.t.Fatalf("mailtest: config: %v", err)
	}
	return cfg
}

func (s *Server) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &session{s: s, tls: isTLS || s.opts.ImplicitTLS, conn: c}, nil
	}))
	srv.Domain = "mailtest.localhost"
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 8 << 20
	srv.AllowInsecureAuth = !s.opts.TLS && !s.opts.ImplicitTLS
	srv.EnableSMTPUTF8 = true
	if s.opts.TLS {
		srv.TLSConfig = s.tls
	}
	if s.opts.ImplicitTLS {
		ln = tls.NewListener(ln, s.tls)
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// Stop stops the server (the relay goes down); Restart brings it back on
// the same address. Received messages are kept.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart listens again on the same address after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		s.t.Fatalf("mailtest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(ln)
}

// Messages returns the messages received so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Wait waits up to 10 seconds until at least n messages have arrived and
// returns them all; it fails the test otherwise.
func (s *Server) Wait(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if got := s.Messages(); len(got) >= n {
			return got
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: %d messages arrived, want %d", len(s.Messages()), n)
		}
	}
}

type session struct {
	s        *Server
	conn     *smtp.Conn
	tls      bool
	authUser string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*session)(nil)

func (se *session) AuthMechanisms() []string {
	if se.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != se.s.opts.Username || password != se.s.opts.Password || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		se.authUser = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if _, ok := se.conn.TLSConnectionState(); ok {
		se.tls = true
	}
	if se.s.opts.TLS && !se.tls {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first"}
	}
	if se.s.opts.Username != "" && se.authUser == "" {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	for _, r := range se.s.opts.Reject {
		if strings.EqualFold(r, to) {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest cannot parse it: " + err.Error()}
	}
	m.From, m.To, m.AuthUser, m.TLS = se.from, append([]string(nil), se.to...), se.authUser, se.tls
	se.s.mu.Lock()
	se.s.messages = append(se.s.messages, m)
	se.s.mu.Unlock()
	select {
	case se.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

// Parse parses a raw RFC 5322 message: it decodes the subject and walks the
// MIME tree for the text, HTML and attachment parts.
func Parse(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: msg.Header, MessageID: msg.Header.Get("Message-ID")}
	dec := &mime.WordDecoder{}
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Message{}, fmt.Errorf("subject: %w", err)
	}
	err = m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Header.Get("Content-Disposition"), msg.Body)
	return m, err
}

func (m *Message) walk(ctype, cte, disp string, body io.Reader) error {
	if ctype == "" {
		ctype = "text/plain; charset=us-ascii"
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p); err != nil {
				return err
			}
		}
	}
	data, err := decode(cte, body)
	if err != nil {
		return err
	}
	dispType, dispParams, _ := mime.ParseMediaType(disp)
	switch {
	case dispType == "attachment" || dispParams["filename"] != "":
		m.Attachments = append(m.Attachments, Part{Filename: dispParams["filename"], MediaType: mt, Params: params, Data: data})
	case mt == "text/plain" && m.Text == "":
		m.Text = string(data)
	case mt == "text/html" && m.HTML == "":
		m.HTML = string(data)
	default:
		m.Attachments = append(m.Attachments, Part{MediaType: mt, Params: params, Data: data})
	}
	return nil
}

func decode(cte string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(cte) {
	case "", "7bit", "8bit", "binary":
		return io.ReadAll(r)
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(r)) // NextRawPart leaves it to us
	case "base64":
		raw, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(strings.Map(func(c rune) rune {
			if c == '\r' || c == '\n' || c == ' ' {
				return -1
			}
			return c
		}, string(raw)))
	}
	return nil, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
}

// testCert makes a CA and a server certificate for 127.0.0.1 and
// localhost, and writes the CA's PEM to a file.
func testCert(t testing.TB) (*tls.Config, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailtest CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("mailtest: CA: %v", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("mailtest: certificate: %v", err)
	}
	path := filepath.Join(t.TempDir(), "mailtest-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, path
}
