package servicetest

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStartMosquitto(t *testing.T) {
	m := StartMosquitto(t, "")
	c, err := net.DialTimeout("tcp", m.Addr, time.Second)
	require.NoError(t, err)
	c.Close()

	m.Stop()
	_, err = net.DialTimeout("tcp", m.Addr, 200*time.Millisecond)
	require.Error(t, err, "stopped broker still listens")

	m.Start()
	c, err = net.DialTimeout("tcp", m.Addr, time.Second)
	require.NoError(t, err, "restarted broker listens on the same port")
	c.Close()
	m.Kill()
	m.Kill()
}
