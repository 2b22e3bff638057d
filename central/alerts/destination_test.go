package alerts_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/alerts"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/store"
	"github.com/smartworkcenters/swc/shared/metrics"
)

// TestWebhookURLPolicy: by default a webhook URL must be https to a host
// that is no internal address literal nor localhost; the insecure policy
// (serve --webhook-allow-insecure) takes http and internal hosts. Every
// refusal names the field url.
func TestWebhookURLPolicy(t *testing.T) {
	strict, insecure := alerts.WebhookPolicy{}, alerts.WebhookPolicy{AllowInsecure: true}
	for _, tc := range []struct {
		url              string
		strictOK, labOK  bool
		strictMentioning string
	}{
		{"https://hooks.example.com/swc", true, true, ""},
		{"https://8.8.8.8/hook", true, true, ""},
		{"https://[2001:4860:4860::8888]/hook", true, true, ""},
		{"http://hooks.example.com/swc", false, true, "https"},
		{"https://127.0.0.1:8443/", false, true, "loopback"},
		{"https://127.1.2.3/", false, true, "loopback"},
		{"https://[::1]/", false, true, "loopback"},
		{"https://[::ffff:127.0.0.1]/", false, true, "loopback"},
		{"https://10.0.0.5/", false, true, "private"},
		{"https://172.16.3.4/", false, true, "private"},
		{"https://192.168.1.1/", false, true, "private"},
		{"https://[fd00::1]/", false, true, "private"},
		{"https://169.254.169.254/latest/meta-data/", false, true, "link-local"},
		{"https://[fe80::1]/", false, true, "link-local"},
		{"https://0.0.0.0/", false, true, "unspecified"},
		{"https://[::]/", false, true, "unspecified"},
		{"https://224.0.0.1/", false, true, "multicast"},
		{"https://[ff02::1]/", false, true, "multicast"},
		{"https://100.64.0.1/", false, true, "carrier-grade NAT"},
		{"https://localhost:8443/", false, true, "this machine"},
		{"https://api.LOCALHOST./", false, true, "this machine"},
		{"ftp://hooks.example.com/", false, false, "https"},
		{"https:///nohost", false, false, "https"},
		{"not a url", false, false, "https"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			for _, p := range []struct {
				name   string
				policy alerts.WebhookPolicy
				ok     bool
			}{{"strict", strict, tc.strictOK}, {"insecure", insecure, tc.labOK}} {
				err := p.policy.CheckURL(tc.url)
				if p.ok {
					require.NoError(t, err, p.name)
					continue
				}
				var fe *domain.FieldError
				require.True(t, errors.As(err, &fe), "%s: %v", p.name, err)
				require.Equal(t, "url", fe.Field, p.name)
				if p.name == "strict" {
					require.Contains(t, fe.Message, tc.strictMentioning)
				}
			}
		})
	}
}

// TestDialControl: the dialer refuses every address that is not public,
// whatever name resolved to it (the check behind DNS rebinding), and
// allows them with the insecure policy.
func TestDialControl(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"93.184.216.34:443", true},
		{"[2606:2800:220:1:248:1893:25c8:1946]:443", true},
		{"127.0.0.1:443", false},
		{"[::1]:443", false},
		{"10.1.2.3:443", false},
		{"[::ffff:10.1.2.3]:443", false},
		{"169.254.169.254:80", false},
		{"0.0.0.0:443", false},
		{"239.1.1.1:443", false},
		{"255.255.255.255:443", false},
	} {
		err := alerts.WebhookPolicy{}.DialControl("tcp", tc.addr, nil)
		if tc.ok {
			require.NoError(t, err, tc.addr)
		} else {
			require.ErrorIs(t, err, alerts.ErrDestinationRefused, tc.addr)
		}
		require.NoError(t, alerts.WebhookPolicy{AllowInsecure: true}.DialControl("tcp", tc.addr, nil), tc.addr)
		require.Equal(t, tc.ok, alerts.Refused(netip.MustParseAddrPort(tc.addr).Addr()) == "", tc.addr)
	}
}

// TestWebhookDeliveryRefusesInternal: a stored endpoint whose name
// resolves to loopback (localhost, as a rebinding name would), or an
// http:// or loopback URL stored before the policy, is not delivered to:
// no connection reaches the listener, one attempt is logged with the
// refusal and none is retried.
func TestWebhookDeliveryRefusesInternal(t *testing.T) {
	ctx := context.Background()
	b := backends()[0]
	st := b.open(t, b.location(t))
	seed(t, st)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	urls := map[string]string{
		"byname": "https://localhost:" + strconv.Itoa(port) + "/hook",
		"plain":  "http://hooks.example.com:" + strconv.Itoa(port) + "/hook",
		"ip":     "https://127.0.0.1:" + strconv.Itoa(port) + "/hook",
	}
	for id, u := range urls {
		require.NoError(t, st.Health().CreateWebhook(ctx, store.Webhook{ID: id, Center: "c1", URL: u, Secret: "secret-0123456789abcdef", CreatedBy: "tk", CreatedMs: 1}))
	}
	reg := metrics.NewRegistry()
	wh := alerts.NewWebhooks(alerts.WebhookConfig{Attempts: 3}, st.Health(), quiet(), reg)
	t.Cleanup(wh.Close)
	require.NoError(t, wh.Notify(ctx, alerts.Notification{Event: alerts.Raised, Alert: store.Alert{ID: "al-1", Door: "d1", Center: "c1", Kind: store.AlertForced}}))
	wh.Wait()
	require.Zero(t, accepted.Load(), "no connection reached the internal listener")
	for id := range urls {
		log, err := st.Health().ListDeliveries(ctx, id, store.PageRequest{})
		require.NoError(t, err)
		require.Len(t, log.Items, 1, "%s: one attempt, not retried", id)
		require.False(t, log.Items[0].OK, id)
		require.Contains(t, log.Items[0].Error, "webhook destination refused", id)
	}
	var sb strings.Builder
	require.NoError(t, reg.WriteText(&sb))
	require.Contains(t, sb.String(), `swc_webhook_deliveries_total{result="refused"} 3`)
}
