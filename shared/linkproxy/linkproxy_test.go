package linkproxy

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // echo
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						c.Close()
						return
					}
					_, _ = c.Write(buf[:n])
				}
			}()
		}
	}()
	p, err := New(ln.Addr().String())
	require.NoError(t, err)
	defer p.Close()
	echo := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		return err
	}
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	require.NoError(t, echo(c))

	p.Stall()
	require.Error(t, echo(c), "a stalled link moves nothing")
	p.Restore()

	p.Cut()
	buf := make([]byte, 1)
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err = c.Read(buf)
	require.Error(t, err, "a cut link drops the connection")
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		require.Error(t, echo(c2), "a cut link refuses new connections")
	}
	p.Restore()
	c3, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	require.NoError(t, echo(c3))
	assert.Equal(t, 2, p.Accepts())
}
