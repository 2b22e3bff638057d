package servicetest

import (
	"testing"

	"github.com/smartworkcenters/swc/shared/linkproxy"
)

// Proxy is a link between a client and a server that a test can cut, stall
// and restore.
type Proxy = linkproxy.Proxy

// StartProxy listens on a free loopback port and forwards to target
// (host:port). It is closed when the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := linkproxy.New(target)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}
