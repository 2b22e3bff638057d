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

func TestStartProxyForwards(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			_, _ = c.Write([]byte("hi"))
			c.Close()
		}
	}()
	p := StartProxy(t, ln.Addr().String())
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2)
	_, err = c.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "hi", string(buf))
}
