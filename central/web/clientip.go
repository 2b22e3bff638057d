package web

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the reverse proxies (networks) whose X-Forwarded-For
// header serve believes (serve's --trusted-proxies). Behind a proxy every
// request comes from the proxy's address: without it, the sign-in rate
// limits would count every user as one client.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies reads a comma-separated list of networks (CIDR, such
// as 10.0.0.0/8 or fd00::/8; a bare address is that one host). An entry
// that is not a network, or one that covers every address (which would let
// any client choose its address), is an error naming it.
func ParseTrustedProxies(list string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			p, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(f); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() {
			return nil, fmt.Errorf("trusted_proxies: %q is not a network such as 10.0.0.0/8, fd00::/8 or 192.0.2.7", f)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked()
		if !p.IsValid() {
			return nil, fmt.Errorf("trusted_proxies: %q is not a network such as 10.0.0.0/8, fd00::/8 or 192.0.2.7", f)
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("trusted_proxies: %q covers every address: any client could then choose the address the rate limits count", f)
		}
		out = append(out, p)
	}
	return out, nil
}

// unmapBits is how many bits an IPv4-mapped IPv6 prefix loses as IPv4.
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

// String lists the networks as ParseTrustedProxies reads them.
func (tp TrustedProxies) String() string {
	s := make([]string, len(tp))
	for i, p := range tp {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (tp TrustedProxies) trusted(a netip.Addr) bool {
	for _, p := range tp {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the request's client address, for the rate limits: the
// connection's peer, unless the peer is a trusted proxy; then the
// rightmost address of X-Forwarded-For that is not a trusted proxy (what
// the proxy nearest to the client saw; the entries left of it are the
// client's to write and are ignored). When every entry is a trusted proxy,
// or an entry is not an address, the last address walked is the client.
func (tp TrustedProxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap().WithZone("")
	if !tp.trusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap().WithZone("")
		if !tp.trusted(client) {
			break
		}
	}
	return client.String()
}
