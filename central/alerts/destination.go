package alerts

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/central/domain"
)

// WebhookPolicy says where webhooks may be sent. A webhook URL is given by
// a center's manager, who must not reach the central's own network through
// it (server-side request forgery): by default a URL must be https, and
// neither its host nor any address a delivery dials may be loopback,
// private, link-local, unspecified, multicast or otherwise not public
// (see Refused). The address is checked when the connection is made
// (Client's dialer), after name resolution, so a name that resolves to an
// internal address, now or later (DNS rebinding), is refused too.
// Deliveries use no proxy and follow no redirect.
type WebhookPolicy struct {
	// AllowInsecure allows http:// URLs and internal destinations: serve
	// --webhook-allow-insecure, for tests and labs whose receivers run on
	// loopback or a private network.
	AllowInsecure bool
}

// ErrDestinationRefused is matched by the error of a delivery or URL the
// policy refuses.
var ErrDestinationRefused = errors.New("webhook destination refused")

// insecureHint tells the operator how to allow what is refused.
const insecureHint = "only with serve --webhook-allow-insecure (tests, labs)"

// CheckURL checks a webhook URL as given (the API, on create and update):
// http(s), its scheme, and a host that is neither an internal address
// literal nor a localhost name. The error is a *domain.FieldError naming
// the field url.
func (p WebhookPolicy) CheckURL(raw string) error { return p.check(raw, true) }

// check is CheckURL; names says whether localhost names are refused here.
// A delivery leaves names to the dialer, which judges the addresses they
// resolve to (DialControl).
func (p WebhookPolicy) check(raw string, names bool) error {
	bad := func(format string, args ...any) error {
		return &domain.FieldError{Field: "url", Message: fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return bad("want an https:// URL")
	}
	if u.Scheme == "http" && !p.AllowInsecure {
		return bad("want https:// (http:// %s)", insecureHint)
	}
	if p.AllowInsecure {
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if names && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return bad("%s is this machine: a webhook goes to a public host (%s)", u.Hostname(), insecureHint)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := Refused(ip); why != "" {
			return bad("%s is a %s address: a webhook goes to a public host (%s)", u.Hostname(), why, insecureHint)
		}
	}
	return nil
}

// notPublic are IPv4 ranges that netip's predicates do not name but that
// are no public destination either.
var notPublic = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// Refused says why ip is not a public destination ("" when it is one):
// loopback, private, link-local, unspecified, multicast, or another range
// that is not routed on the internet. IPv4-mapped IPv6 addresses are
// judged as their IPv4 address.
func Refused(ip netip.Addr) string {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	}
	if ip.Is4() {
		for _, r := range notPublic {
			if r.prefix.Contains(ip) {
				return r.why
			}
		}
	}
	return ""
}

// DialControl is the net.Dialer Control of deliveries: it refuses a
// connection to an address that is not public, whatever name led to it.
func (p WebhookPolicy) DialControl(_, address string, _ syscall.RawConn) error {
	if p.AllowInsecure {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: address %q: %v", ErrDestinationRefused, address, err)
	}
	if why := Refused(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is a %s address (%s)", ErrDestinationRefused, ap.Addr(), why, insecureHint)
	}
	return nil
}

// Client returns the HTTP client of deliveries: the dialer checks every
// address it connects to (DialControl), no proxy (a proxy would dial the
// destination unchecked), no redirect followed (a 3xx is an answer, a
// failed delivery), and timeout for the whole request.
func (p WebhookPolicy) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.DialControl}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        16,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
