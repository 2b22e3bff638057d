package enroll_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// TestRenewalLogHoldsExcerpts sends renewal requests whose errors quote
// 250 KiB of what the door sent (an unknown field's name, a CSR that is no
// CSR): the log lines stay short.
func TestRenewalLogHoldsExcerpts(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	svc, err := enroll.NewService(enroll.Config{CA: f.ca, Store: f.st, SigningKeys: []string{f.key}, Broker: "mqtts://central.test:8883",
		ServiceUsername: "swc-central", Now: func() time.Time { return f.clock }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	big := strings.Repeat("x", 250<<10)
	assert.Nil(t, svc.HandleRenewal(f.ctx, "door-a", []byte(`{"v":1,"door":"door-a","csr":"","`+big+`":1}`)))
	svc.HandleRenewal(f.ctx, "door-a", mustEncode(t, &protocol.CertRequest{V: 1, Door: "door-a", CSR: big[:200<<10]}))
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, "each refusal is logged")
	for _, line := range lines {
		assert.Less(t, len(line), 2048, "a log line holds an excerpt of what the door sent: %.300s", line)
	}
}
