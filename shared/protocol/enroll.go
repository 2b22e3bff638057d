package protocol

import (
	"encoding/pem"
	"net/url"
	"strconv"
)

// Limits on the certificate messages.
const (
	// MaxCSRSize bounds a PEM certificate request.
	MaxCSRSize = 8 << 10
	// MaxCertSize bounds one PEM certificate.
	MaxCertSize = 16 << 10
	// MaxTokenLen bounds an enrollment token.
	MaxTokenLen = 256
	// MaxSigningKeys bounds the signing keys handed to a door.
	MaxSigningKeys = 8
)

// Enrollment (HTTP) and certificate renewal (MQTT) messages.
//
// A door is enrolled once over HTTPS: `swc-edge provision` makes its own key
// pair and POSTs an EnrollRequest (a one-time token and a certificate request)
// to the central's /api/v1/enroll; the central answers with an Enrollment.
// Afterwards the door renews its certificate over its MQTT connection: it
// publishes a CertRequest on its renew topic and the central answers with a
// CertReply on its cert topic.

// EnrollRequest is what a door sends to enroll: the enrollment token a
// technician was given and a PEM certificate request signed by the door's
// own key.
type EnrollRequest struct {
	V     int    `json:"v"`
	Token string `json:"token"`
	CSR   string `json:"csr"`
}

// Validate checks the request.
func (r *EnrollRequest) Validate() error {
	if r.Token == "" {
		return invalid("token", "required")
	}
	if len(r.Token) > MaxTokenLen {
		return invalid("token", "longer than %d bytes", MaxTokenLen)
	}
	for i := 0; i < len(r.Token); i++ {
		if c := r.Token[i]; c <= ' ' || c > '~' {
			return invalid("token", "character %q at %d not allowed (printable ASCII without spaces)", c, i)
		}
	}
	return checkPEM("csr", r.CSR, "CERTIFICATE REQUEST", MaxCSRSize)
}

// Enrollment is the central's answer to an EnrollRequest: everything a door
// needs to join the network.
type Enrollment struct {
	V int `json:"v"`
	// Door is the door's id (the subject of its certificate).
	Door string `json:"door"`
	// Certificate is the door's client certificate (PEM), subject CN = Door.
	Certificate string `json:"certificate"`
	// CA is the certificate of the central's CA (PEM): it signed Certificate
	// and the broker's server certificate.
	CA string `json:"ca"`
	// Broker is the MQTT broker's address, such as mqtts://central.example:8883.
	Broker string `json:"broker"`
	// SigningKeys are the central's whitelist and command signing keys,
	// "ed25519:<base64>", which the door pins.
	SigningKeys []string `json:"signing_keys"`
	// NextSeq is the sequence number the door's next event must carry: one
	// above the highest the central holds for this door, so that a door whose
	// storage was replaced never reuses a number.
	NextSeq uint64 `json:"next_seq"`
	// NotAfterMs is when Certificate expires (Unix ms).
	NotAfterMs int64 `json:"not_after_ms"`
	// TopicPrefix is the central's MQTT topic prefix ("" means DefaultPrefix).
	TopicPrefix string `json:"topic_prefix,omitempty"`
}

// Validate checks the enrollment.
func (e *Enrollment) Validate() error {
	if err := checkID("door", e.Door); err != nil {
		return err
	}
	if err := checkPEM("certificate", e.Certificate, "CERTIFICATE", MaxCertSize); err != nil {
		return err
	}
	if err := checkPEM("ca", e.CA, "CERTIFICATE", MaxCertSize); err != nil {
		return err
	}
	if err := checkBrokerURL("broker", e.Broker); err != nil {
		return err
	}
	if len(e.SigningKeys) == 0 || len(e.SigningKeys) > MaxSigningKeys {
		return invalid("signing_keys", "%d keys; want 1 to %d", len(e.SigningKeys), MaxSigningKeys)
	}
	for i, k := range e.SigningKeys {
		if _, err := ParsePublicKey(k); err != nil {
			return &Error{Kind: ErrInvalid, Field: "signing_keys[" + strconv.Itoa(i) + "]", Detail: err.Error()}
		}
	}
	if e.NextSeq == 0 || e.NextSeq > 1<<62 {
		return invalid("next_seq", "%d; want 1 to 2^62", e.NextSeq)
	}
	if e.NotAfterMs < minSignedMs || e.NotAfterMs > maxMs {
		return invalid("not_after_ms", "%d out of range", e.NotAfterMs)
	}
	if e.TopicPrefix != "" {
		if _, err := NewTopics(e.TopicPrefix); err != nil {
			return invalid("topic_prefix", "%v", err)
		}
	}
	return nil
}

// CertRequest is published by a door on its renew topic to renew its client
// certificate before it expires: a PEM certificate request signed by the
// door's key (the same key; it never leaves the door).
type CertRequest struct {
	V    int    `json:"v"`
	Door string `json:"door"`
	CSR  string `json:"csr"`
}

// Validate checks the request.
func (r *CertRequest) Validate() error {
	if err := checkID("door", r.Door); err != nil {
		return err
	}
	return checkPEM("csr", r.CSR, "CERTIFICATE REQUEST", MaxCSRSize)
}

// CertReply is the central's answer on the door's cert topic: the renewed
// certificate (PEM), or the reason it was refused.
type CertReply struct {
	V           int    `json:"v"`
	Door        string `json:"door"`
	Certificate string `json:"certificate,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Validate checks the reply: exactly one of Certificate and Error.
func (r *CertReply) Validate() error {
	if err := checkID("door", r.Door); err != nil {
		return err
	}
	switch {
	case r.Certificate == "" && r.Error == "":
		return invalid("certificate", "a reply carries a certificate or an error")
	case r.Certificate != "" && r.Error != "":
		return invalid("error", "a reply carries a certificate or an error, not both")
	case r.Error != "":
		if len(r.Error) > maxTextLen {
			return invalid("error", "longer than %d bytes", maxTextLen)
		}
		return nil
	}
	return checkPEM("certificate", r.Certificate, "CERTIFICATE", MaxCertSize)
}

func (r *EnrollRequest) version() int { return r.V }
func (e *Enrollment) version() int    { return e.V }
func (r *CertRequest) version() int   { return r.V }
func (r *CertReply) version() int     { return r.V }

// DecodeEnrollRequest decodes and validates an enrollment request.
func DecodeEnrollRequest(b []byte) (*EnrollRequest, error) {
	var m EnrollRequest
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeEnrollment decodes and validates the central's enrollment answer.
func DecodeEnrollment(b []byte) (*Enrollment, error) {
	var m Enrollment
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeCertRequest decodes and validates a door's renewal request.
func DecodeCertRequest(b []byte) (*CertRequest, error) {
	var m CertRequest
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeCertReply decodes and validates the central's renewal answer.
func DecodeCertReply(b []byte) (*CertReply, error) {
	var m CertReply
	if err := decodeStrict(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// checkPEM checks that s is exactly one PEM block of the type (surrounding
// white space allowed) and at most max bytes. The block's contents are not
// parsed here: the receiver parses them with crypto/x509.
func checkPEM(field, s, typ string, max int) error {
	if s == "" {
		return invalid(field, "required")
	}
	if len(s) > max {
		return invalid(field, "%d bytes; at most %d", len(s), max)
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil {
		return invalid(field, "not PEM: want a -----BEGIN %s----- block", typ)
	}
	if block.Type != typ {
		return invalid(field, "a PEM %s; want %s", block.Type, typ)
	}
	if len(block.Headers) != 0 {
		return invalid(field, "PEM headers are not allowed")
	}
	for _, c := range rest {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return invalid(field, "data after the PEM block")
		}
	}
	return nil
}

// checkBrokerURL checks an MQTT broker address.
func checkBrokerURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return invalid(field, "%q: want mqtts://host:port", s)
	}
	switch u.Scheme {
	case "mqtts", "ssl", "tls", "mqtt", "tcp":
	default:
		return invalid(field, "%q: scheme %q; want mqtts (or ssl, tls, mqtt, tcp)", s, u.Scheme)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return invalid(field, "%q: want only a scheme, host and port", s)
	}
	return nil
}
