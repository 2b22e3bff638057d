// Package sdnotifytest plays systemd's side of the service notification
// protocol (package sdnotify) in tests: a datagram socket that collects
// what a service sends to $NOTIFY_SOCKET. It is for tests only.
package sdnotifytest

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Listen listens on the datagram socket name (a path; a leading NUL byte
// names an abstract socket) until the test ends, and returns the messages
// sent to it, one per datagram.
func Listen(t testing.TB, name string) <-chan string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	return got
}

// Next returns the next message of got, and fails the test when none comes
// within wait.
func Next(t testing.TB, got <-chan string, wait time.Duration) string {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(wait):
		t.Fatalf("no notification within %v", wait)
		return ""
	}
}
