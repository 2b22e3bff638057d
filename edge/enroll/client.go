package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/smartworkcenters/swc/shared/pki"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// EnrollPath is the central's public enrollment endpoint, below its URL.
const EnrollPath = "/api/v1/enroll"

// Trust says how the door trusts the central's HTTPS certificate. With
// neither field set, the system's roots are used (a central behind a
// reverse proxy with a public certificate).
type Trust struct {
	// CAFile is a PEM file of the central's CA (copied from its data folder).
	CAFile string
	// Fingerprint is the SHA-256 of the central's CA certificate,
	// "sha256:<64 hex digits>" (colons and case do not matter), as shown
	// with every enrollment token: the central must present a chain
	// holding that CA, and its certificate must be signed by it for the
	// host name used.
	Fingerprint string
}

// Errors the exchange returns for the central's refusals; test with
// errors.Is. The error's text carries the central's own message.
var (
	ErrTokenUnknown = errors.New("the central does not know this enrollment token")
	ErrTokenUsed    = errors.New("this enrollment token was already used")
	ErrTokenExpired = errors.New("this enrollment token has expired")
	ErrRefused      = errors.New("the central refused the enrollment")
	// ErrWrongDoor: the token was made for another door than --door (the
	// central refuses it before spending the token).
	ErrWrongDoor = errors.New("the enrollment token is for another door")
)

// NormalizeFingerprint returns "sha256:<lower-case hex>" or an error.
func NormalizeFingerprint(fp string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(fp))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.ReplaceAll(s, ":", "")
	if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
		return "", fmt.Errorf("CA fingerprint %q: want sha256: and 64 hex digits, as shown with the enrollment token", fp)
	}
	return "sha256:" + s, nil
}

// CheckCentralURL checks the central's URL: https, or http to this machine
// only (tests, or a central on the same host). Over http to another
// machine the token would cross the network in clear, and the answer —
// the keys the door will trust for ever — could be forged.
func CheckCentralURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--central %q: want the central's address, such as https://central.example.org:8443", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("--central %q: refusing plain http:// to another machine (the token and the keys the door will trust would cross the network unprotected); use https:// (swc-central serve --https) and --ca-fingerprint", raw)
		}
	default:
		return nil, fmt.Errorf("--central %q: want https://host:port", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--central %q: want only a scheme, host, port and optional path", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsConfig builds the client's TLS configuration for trust, and returns
// the pinned CA certificate's fingerprint ("" when nothing is pinned).
func (t Trust) tlsConfig() (*tls.Config, string, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case t.CAFile != "" && t.Fingerprint != "":
		return nil, "", errors.New("--ca and --ca-fingerprint: give one of them")
	case t.CAFile != "":
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("--ca: %w", err)
		}
		ca, err := pki.ParseCertificate(b)
		if err != nil {
			return nil, "", fmt.Errorf("--ca %s: %w", t.CAFile, err)
		}
		tc.RootCAs = x509.NewCertPool()
		tc.RootCAs.AddCert(ca)
		return tc, pki.Fingerprint(ca), nil
	case t.Fingerprint != "":
		want, err := NormalizeFingerprint(t.Fingerprint)
		if err != nil {
			return nil, "", fmt.Errorf("--ca-fingerprint: %w", err)
		}
		// The usual verification is replaced by: a certificate of the chain
		// is the pinned CA, and the server's certificate verifies against it
		// for the host name.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the central sent no certificate")
			}
			var ca *x509.Certificate
			for _, c := range cs.PeerCertificates {
				if pki.Fingerprint(c) == want && c.IsCA {
					ca = c
				}
			}
			if ca == nil {
				return fmt.Errorf("the central's certificate is not from the CA with fingerprint %s: check the fingerprint, or that --central is the right machine", want)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca)
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: cs.ServerName})
			if err != nil {
				return fmt.Errorf("the central's certificate: %w (is the name in --central one of the central's --hosts?)", err)
			}
			return nil
		}
		return tc, want, nil
	}
	return tc, "", nil
}

// Exchange enrolls: it posts the token and the certificate request to the
// central and returns its answer, decoded and validated. When the CA is
// pinned (Trust), the answer's CA must be that CA.
func Exchange(ctx context.Context, central string, trust Trust, token string, csr []byte) (*protocol.Enrollment, error) {
	u, err := CheckCentralURL(central)
	if err != nil {
		return nil, err
	}
	tc, pinned, err := trust.tlsConfig()
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(protocol.EnrollRequest{V: protocol.Version, Token: token, CSR: string(csr)})
	if err != nil {
		return nil, err
	}
	endpoint := strings.TrimSuffix(u.String(), "/") + EnrollPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient(tc).Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the central at %s: %w", u.Redacted(), err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, protocol.MaxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the central's answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, refusal(res.StatusCode, b)
	}
	e, err := protocol.DecodeEnrollment(b)
	if err != nil {
		return nil, fmt.Errorf("the central's answer is not a valid enrollment: %w", err)
	}
	if pinned != "" {
		ca, err := pki.ParseCertificate([]byte(e.CA))
		if err != nil || pki.Fingerprint(ca) != pinned {
			return nil, fmt.Errorf("the central answered with another CA than the pinned %s", pinned)
		}
	}
	return e, nil
}

func httpClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
}

// APIClient returns an HTTP client for the central's API at central (the
// same URL rules as enrollment: https, or http to this machine) trusting
// the central as t says.
func (t Trust) APIClient(central string) (*http.Client, *url.URL, error) {
	u, err := CheckCentralURL(central)
	if err != nil {
		return nil, nil, err
	}
	tc, _, err := t.tlsConfig()
	if err != nil {
		return nil, nil, err
	}
	return httpClient(tc), u, nil
}

// refusal turns the central's error answer into an error.
func refusal(status int, body []byte) error {
	var e struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.Code == "" {
		return fmt.Errorf("%w: HTTP %d: %s (is --central the central's address?)", ErrRefused, status, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	switch e.Code {
	case "token_unknown":
		return fmt.Errorf("%w: %s", ErrTokenUnknown, e.Message)
	case "token_used":
		return fmt.Errorf("%w: %s", ErrTokenUsed, e.Message)
	case "token_expired":
		return fmt.Errorf("%w: %s", ErrTokenExpired, e.Message)
	case "wrong_door":
		return fmt.Errorf("%w: %s", ErrWrongDoor, e.Message)
	}
	if e.Field != "" {
		return fmt.Errorf("%w: %s (%s): %s", ErrRefused, e.Code, e.Field, e.Message)
	}
	return fmt.Errorf("%w: %s: %s", ErrRefused, e.Code, e.Message)
}
