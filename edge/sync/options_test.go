package sync

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The ping timeout given to paho is one keepalive, within 10 s and a
// minute: a PINGRESP queued behind a whitelist snapshot must not drop the
// connection.
func TestPingTimeoutFollowsKeepalive(t *testing.T) {
	for _, tc := range []struct {
		keepalive, want time.Duration
	}{
		{time.Second, 10 * time.Second},
		{30 * time.Second, 30 * time.Second},
		{45 * time.Second, 45 * time.Second},
		{5 * time.Minute, time.Minute},
	} {
		t.Run(tc.keepalive.String(), func(t *testing.T) {
			s := &Sync{cfg: Config{KeepAlive: tc.keepalive, Broker: "tcp://127.0.0.1:1883"}, door: "door-a"}
			opts, err := s.options(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tc.want, opts.PingTimeout)
		})
	}
}
