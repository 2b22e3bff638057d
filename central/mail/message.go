package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is an e-mail to one recipient. Text is required; HTML is an
// optional alternative of it. Header values (To, Subject, attachment names
// and types) must not hold line breaks: a value that does is refused, never
// cleaned, so that no input can add a header.
type Message struct {
	To          string // one RFC 5322 address, such as "Ann Peeters <ann@example.org>"
	Subject     string // any Unicode; encoded per RFC 2047 when not ASCII
	Text        string // UTF-8 plain text, sent quoted-printable
	HTML        string // optional HTML alternative
	Attachments []Attachment
}

// Attachment is a file sent with the message (base64). ContentType may
// carry parameters: a booking's invitation is
// "text/calendar; method=REQUEST; charset=UTF-8".
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Limits of messages.
const (
	MaxSubjectBytes = 998 - len("Subject: ")
	MaxTextBytes    = 1 << 20
	MaxAttachments  = 10
)

// validate checks the message and returns the parsed recipient.
func (m *Message) validate() (*mail.Address, error) {
	if m.To == "" {
		return nil, fieldErr("to", "required")
	}
	if strings.ContainsAny(m.To, "\r\n") {
		return nil, fieldErr("to", "holds a line break")
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return nil, fieldErr("to", "%q is not an e-mail address: %v", m.To, err)
	}
	if len(to.Address) > 254 || !strings.Contains(to.Address, "@") {
		return nil, fieldErr("to", "%q is not an e-mail address", m.To)
	}
	if m.Subject == "" {
		return nil, fieldErr("subject", "required")
	}
	if err := headerText(m.Subject); err != nil {
		return nil, fieldErr("subject", "%v", err)
	}
	if len(m.Subject) > MaxSubjectBytes {
		return nil, fieldErr("subject", "longer than %d bytes", MaxSubjectBytes)
	}
	if m.Text == "" {
		return nil, fieldErr("text", "required (the HTML part is an alternative to it)")
	}
	if !utf8.ValidString(m.Text) || len(m.Text) > MaxTextBytes {
		return nil, fieldErr("text", "want valid UTF-8 of at most %d bytes", MaxTextBytes)
	}
	if !utf8.ValidString(m.HTML) || len(m.HTML) > MaxTextBytes {
		return nil, fieldErr("html", "want valid UTF-8 of at most %d bytes", MaxTextBytes)
	}
	if len(m.Attachments) > MaxAttachments {
		return nil, fieldErr("attachments", "more than %d", MaxAttachments)
	}
	for i, a := range m.Attachments {
		f := fmt.Sprintf("attachments[%d]", i)
		if a.Filename == "" || strings.ContainsAny(a.Filename, "/\\") {
			return nil, fieldErr(f+".filename", "required, without a folder")
		}
		if err := headerText(a.Filename); err != nil {
			return nil, fieldErr(f+".filename", "%v", err)
		}
		if err := headerText(a.ContentType); err != nil {
			return nil, fieldErr(f+".content_type", "%v", err)
		}
		if _, _, err := mime.ParseMediaType(a.ContentType); err != nil {
			return nil, fieldErr(f+".content_type", "%q: %v", a.ContentType, err)
		}
	}
	return to, nil
}

// headerText refuses what could end a header line or is not text.
func headerText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range s {
		if r == '\r' || r == '\n' {
			return fmt.Errorf("holds a line break")
		}
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("holds control character %U", r)
		}
	}
	return nil
}

// NewID returns a random message id (letters and digits), the outbox row's
// id and the local part of its Message-ID.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "mail-" + hex.EncodeToString(b)
}

// Compose renders the message as sent: headers (From, To, Subject, Date,
// Message-ID <id@from-domain>, MIME-Version, Auto-Submitted) and a MIME
// body — text/plain, or multipart/alternative with the HTML, inside
// multipart/mixed with the attachments. Lines end in CRLF and every byte is
// 7-bit. It returns the bare recipient address for the SMTP envelope.
func Compose(from *mail.Address, id string, date time.Time, m Message) (msg []byte, rcpt string, err error) {
	if from == nil {
		return nil, "", fieldErr("mail-from", "required")
	}
	to, err := m.validate()
	if err != nil {
		return nil, "", err
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	var b bytes.Buffer
	header(&b, "From", from.String())
	header(&b, "To", to.String())
	header(&b, "Subject", encodeSubject(strings.TrimSpace(m.Subject))) // readers drop the spaces around it anyway
	header(&b, "Date", date.Format(time.RFC1123Z))
	header(&b, "Message-ID", "<"+id+"@"+domain+">")
	header(&b, "MIME-Version", "1.0")
	header(&b, "Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	bh, body, err := bodyPart(m)
	if err != nil {
		return nil, "", err
	}
	if len(m.Attachments) == 0 {
		writeHeaders(&b, bh)
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes(), to.Address, nil
	}
	mw := newMultipart(&b)
	header(&b, "Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\n")
	pw, err := mw.CreatePart(bh)
	if err != nil {
		return nil, "", err
	}
	pw.Write(body)
	for _, a := range m.Attachments {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", a.ContentType)
		h.Set("Content-Transfer-Encoding", "base64")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
		pw, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		writeBase64(pw, a.Data)
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	b.WriteString("\r\n")
	return b.Bytes(), to.Address, nil
}

// newMultipart returns a multipart writer with a boundary short enough for
// its Content-Type line to fit 78 characters (multipart.Writer's own are 60
// characters long).
func newMultipart(w io.Writer) *multipart.Writer {
	mw := multipart.NewWriter(w)
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	_ = mw.SetBoundary("swc-" + hex.EncodeToString(b)) // valid: letters, digits, '-'
	return mw
}

// writeHeaders writes a part's headers in a fixed order.
func writeHeaders(b *bytes.Buffer, h textproto.MIMEHeader) {
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding"} {
		if v := h.Get(k); v != "" {
			header(b, k, v)
		}
	}
}

// bodyPart returns the headers and content of the text part, or of the
// multipart/alternative of text and HTML.
func bodyPart(m Message) (textproto.MIMEHeader, []byte, error) {
	qpHeader := func(typ string) textproto.MIMEHeader {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", typ)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		return h
	}
	if m.HTML == "" {
		body, err := qp(m.Text)
		return qpHeader("text/plain; charset=UTF-8"), body, err
	}
	var b bytes.Buffer
	mw := newMultipart(&b)
	for _, p := range []struct{ typ, text string }{{"text/plain; charset=UTF-8", m.Text}, {"text/html; charset=UTF-8", m.HTML}} {
		w, err := mw.CreatePart(qpHeader(p.typ))
		if err != nil {
			return nil, nil, err
		}
		part, err := qp(p.text)
		if err != nil {
			return nil, nil, err
		}
		w.Write(part)
	}
	if err := mw.Close(); err != nil {
		return nil, nil, err
	}
	b.WriteString("\r\n")
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	return h, b.Bytes(), nil
}

// qp encodes text as quoted-printable with CRLF line ends.
func qp(text string) ([]byte, error) {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(strings.ReplaceAll(text, "\r\n", "\n"))); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

func writeBase64(w io.Writer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		io.WriteString(w, enc[:76]+"\r\n")
		enc = enc[76:]
	}
	io.WriteString(w, enc+"\r\n")
}

// encodeSubject encodes a subject that is not plain ASCII (or could be
// mistaken for an encoded word) as RFC 2047 Q encoded words of UTF-8.
func encodeSubject(s string) string {
	ascii := !strings.Contains(s, "=?")
	for i := 0; i < len(s) && ascii; i++ {
		ascii = s[i] < 0x80
	}
	if ascii {
		return s
	}
	var out []string
	// Encoded words of at most 66 characters (so that "Subject: " and the
	// first word fit a 78-character line): cut the text into runs that
	// stay under it once encoded (mime's encoder keeps each word whole).
	var run strings.Builder
	for _, r := range s {
		next := run.String() + string(r)
		if len(qword(next)) > 66 && run.Len() > 0 {
			out = append(out, qword(run.String()))
			run.Reset()
		}
		run.WriteRune(r)
	}
	out = append(out, qword(run.String()))
	return strings.Join(out, " ")
}

// qword always encodes (mime.QEncoding leaves ASCII words as they are).
func qword(s string) string {
	var b strings.Builder
	b.WriteString("=?UTF-8?q?")
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("!*+-/", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("?=")
	return b.String()
}

// header writes "Name: value", folded at spaces to lines of at most 78
// characters where it can be.
func header(b *bytes.Buffer, name, value string) {
	line := name + ":"
	for _, word := range strings.Split(value, " ") {
		if len(line)+1+len(word) > 78 && len(line) > len(name)+1 {
			b.WriteString(line + "\r\n")
			line = ""
		}
		line += " " + word
	}
	b.WriteString(line + "\r\n")
}
