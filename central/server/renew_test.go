package server_test

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestRenewalFloodIsThrottled: a door flooding certificate renewal
// requests gets at most RenewalBurst certificates, plus one per
// RenewalInterval of the test, its extra requests merged and counted,
// while another door's renewal is answered meanwhile.
func TestRenewalFloodIsThrottled(t *testing.T) {
	c := startTLS(t)
	tp := protocol.DefaultTopics()
	c.must("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "Center One", "time_zone": "Europe/Brussels"})
	for _, d := range []string{"door-a", "door-b"} {
		c.must("POST", "/api/v1/doors", map[string]any{"id": d, "center_id": "c1", "name": d})
	}
	ea, keyA, _ := c.enrollDoor("door-a")
	eb, keyB, _ := c.enrollDoor("door-b")
	a, err := dialCertDoor(t, ea, ea.Certificate, keyA)
	require.NoError(t, err)
	b, err := dialCertDoor(t, eb, eb.Certificate, keyB)
	require.NoError(t, err)
	request := func(id string, key []byte) *protocol.CertRequest {
		csr, err := enroll.NewCSR(key, id)
		require.NoError(t, err)
		return &protocol.CertRequest{V: 1, Door: id, CSR: string(csr)}
	}
	certificates := func(d *certDoor) int {
		n := 0
		for _, raw := range d.received(protocol.TopicCert) {
			r, err := protocol.DecodeCertReply(raw)
			require.NoError(t, err)
			if r.Certificate != "" {
				n++
			}
		}
		return n
	}
	counter := func(name string) int {
		var text bytes.Buffer
		require.NoError(t, c.s.Metrics.WriteText(&text))
		m := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindStringSubmatch(text.String())
		require.NotNil(t, m, name)
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		return n
	}

	began := time.Now()
	sent := 0
	reqA := request("door-a", keyA)
	// As a door does, door A asks again until answered: the renewal
	// client may still be subscribing.
	require.Eventually(t, func() bool {
		if certificates(a) >= 1 {
			return true
		}
		a.publish(t, tp.Door("door-a", protocol.TopicRenew), reqA)
		sent++
		return false
	}, 30*time.Second, 200*time.Millisecond)
	const flood = 60
	for range flood {
		a.publish(t, tp.Door("door-a", protocol.TopicRenew), reqA)
	}
	sent += flood
	require.Eventually(t, func() bool { return counter("swc_cert_renewal_requests_total") >= sent },
		10*time.Second, 10*time.Millisecond, "the central received the flood")

	b.publish(t, tp.Door("door-b", protocol.TopicRenew), request("door-b", keyB))
	require.Eventually(t, func() bool { return certificates(b) == 1 }, 10*time.Second, 10*time.Millisecond,
		"door B is answered while door A's requests wait")
	reply, err := protocol.DecodeCertReply(b.received(protocol.TopicCert)[0])
	require.NoError(t, err)
	_, err = enroll.KeyPair([]byte(reply.Certificate), keyB)
	require.NoError(t, err, "door B's certificate carries its key")

	bound := server.RenewalBurst + int(time.Since(began)/server.RenewalInterval)
	got := certificates(a)
	require.GreaterOrEqual(t, got, 1)
	require.LessOrEqual(t, got, bound, "door A sent %d requests", sent)
	require.GreaterOrEqual(t, counter("swc_cert_renewal_requests_coalesced_total"), sent-bound-1,
		"door A's requests beyond what it was answered were merged (one may wait, not merged)")
}
