package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSiteURL: the link of e-mails sent outside a request is --public-url,
// else the --http address when it names a host and a real port.
func TestSiteURL(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PublicURL: "https://swc.example", HTTPAddr: "127.0.0.1:8080"}, "https://swc.example"},
		{Config{HTTPAddr: "central.example:8080"}, "http://central.example:8080"},
		{Config{HTTPAddr: "central.example:8443", HTTPS: true}, "https://central.example:8443"},
		{Config{HTTPAddr: ":8080"}, ""},
		{Config{HTTPAddr: "0.0.0.0:8080"}, ""},
		{Config{HTTPAddr: "127.0.0.1:0"}, ""},
		{Config{HTTPAddr: "nonsense"}, ""},
	} {
		assert.Equal(t, tc.want, (&Server{cfg: tc.cfg}).siteURL(), "%+v", tc.cfg)
	}
}
