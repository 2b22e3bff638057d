package cmdline

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer paho's goroutines and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRoutePahoLogs: a real paho client refused by a closed port reports
// it through the program's logger, as a warning with component=paho;
// paho's own warnings come as debug, and its trace stays off.
func TestRoutePahoLogs(t *testing.T) {
	saved := []mqtt.Logger{mqtt.CRITICAL, mqtt.ERROR, mqtt.WARN, mqtt.DEBUG}
	t.Cleanup(func() { mqtt.CRITICAL, mqtt.ERROR, mqtt.WARN, mqtt.DEBUG = saved[0], saved[1], saved[2], saved[3] })

	var out lockedBuffer
	log, err := NewLogger(&out, LogJSON, "debug")
	require.NoError(t, err)
	RoutePahoLogs(log)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("paho-logs").SetConnectTimeout(2 * time.Second).SetAutoReconnect(false)
	tok := mqtt.NewClient(opts).Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.Error(t, tok.Error())

	type record struct {
		Level, Msg, Component string
	}
	var recs []record
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r record
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		assert.Equal(t, "paho", r.Component, line)
		assert.True(t, strings.HasPrefix(r.Msg, "paho: [client]"), line)
		recs = append(recs, r)
	}
	assert.Contains(t, recs, record{Level: "WARN", Msg: "paho: [client] dial tcp " + addr + ": connect: connection refused", Component: "paho"})
	assert.Contains(t, recs, record{Level: "DEBUG", Msg: "paho: [client] failed to connect to broker, trying next", Component: "paho"})
	assert.NotContains(t, recs, record{Level: "DEBUG", Msg: "paho: [client] Connect()", Component: "paho"}, "paho's trace stays off")
	assert.Equal(t, mqtt.NOOPLogger{}, mqtt.DEBUG)
}
