package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/emersion/go-smtp"

	"github.com/smartworkcenters/swc/central/mail/mailtest"
)

// mailSink is the demo's SMTP relay: a real SMTP server on loopback that
// the central sends its e-mail to (sign-in codes, booking confirmations,
// alerts) and that prints each message on the demo's console instead of
// delivering it, so that a newcomer can sign in to the booking site.
type mailSink struct {
	srv      *smtp.Server
	ln       net.Listener
	mu       sync.Mutex // serialises printing, guards invoices
	invoices int        // messages with a PDF attached received
	out      io.Writer
	done     chan struct{}
}

// startMailSink listens on a free loopback port and prints to out.
func startMailSink(out io.Writer) (*mailSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mail sink: %w", err)
	}
	m := &mailSink{ln: ln, out: out, done: make(chan struct{})}
	m.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: m}, nil }))
	m.srv.Domain = "localhost"
	m.srv.MaxMessageBytes = 1 << 20
	go func() {
		defer close(m.done)
		_ = m.srv.Serve(ln)
	}()
	return m, nil
}

// Port is the sink's port.
func (m *mailSink) Port() int { return m.ln.Addr().(*net.TCPAddr).Port }

// Close stops the sink.
func (m *mailSink) Close() error {
	err := m.srv.Close()
	_ = m.ln.Close() // in case Serve had not taken the listener yet: its Accept ends
	<-m.done
	return err
}

// Invoices is how many messages with a PDF attached arrived.
func (m *mailSink) Invoices() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.invoices
}

// print shows a received message: recipient, subject and its text.
func (m *mailSink) print(to []string, raw []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg, err := mailtest.Parse(raw)
	if err != nil {
		fmt.Fprintf(m.out, "\n[mail] to %s: (unreadable: %v)\n", strings.Join(to, ", "), err)
		return
	}
	for _, a := range msg.Attachments {
		if a.MediaType == "application/pdf" { // an invoice: one line (the text is on the booking site)
			m.invoices++
			fmt.Fprintf(m.out, "[mail] to %s: %s (PDF attached: %s)\n", strings.Join(to, ", "), msg.Subject, a.Filename)
			return
		}
	}
	fmt.Fprintf(m.out, "\n[mail] to %s: %s\n", strings.Join(to, ", "), msg.Subject)
	for _, l := range strings.Split(strings.TrimSpace(msg.Text), "\n") {
		fmt.Fprintf(m.out, "[mail]   %s\n", strings.TrimRight(l, "\r"))
	}
}

// sinkSession is one SMTP conversation with the sink.
type sinkSession struct {
	sink *mailSink
	to   []string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.print(s.to, raw)
	return nil
}

func (s *sinkSession) Reset()        { s.to = nil }
func (s *sinkSession) Logout() error { return nil }
