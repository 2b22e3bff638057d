// Package sdnotify speaks systemd's service notification protocol without a
// dependency: one datagram per message ("READY=1", "WATCHDOG=1",
// "STOPPING=1", "STATUS=...") to the unix socket named by $NOTIFY_SOCKET
// (a path, or an abstract socket when it starts with '@'). With
// WatchdogSec= in the unit, systemd sets $WATCHDOG_USEC and restarts the
// service when no WATCHDOG=1 arrives in time; KeepAlive sends them while a
// health probe passes.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends notifications to systemd. The zero value and nil send
// nothing (not started by systemd).
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// FromEnv reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (the
// watchdog applies only when the PID is this process's or unset).
func FromEnv() (*Notifier, error) {
	n := &Notifier{socket: os.Getenv("NOTIFY_SOCKET")}
	if us := os.Getenv("WATCHDOG_USEC"); us != "" {
		v, err := strconv.ParseInt(us, 10, 64)
		if err != nil || v <= 0 {
			return n, fmt.Errorf("sdnotify: WATCHDOG_USEC=%q is not a positive number of microseconds", us)
		}
		if pid := os.Getenv("WATCHDOG_PID"); pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(v) * time.Microsecond
		}
	}
	return n, nil
}

// Enabled reports whether systemd listens.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval is systemd's watchdog timeout (0 when there is none).
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// Notify sends one message, such as "READY=1"; it does nothing when
// systemd does not listen.
func (n *Notifier) Notify(msg string) error {
	if !n.Enabled() {
		return nil
	}
	name := n.socket
	if name[0] == '@' {
		name = "\x00" + name[1:] // abstract namespace
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Ready tells systemd the service is up.
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping tells systemd the service is shutting down.
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Status sets the service's status line (systemctl status).
func (n *Notifier) Status(s string) error { return n.Notify("STATUS=" + s) }

// KeepAlive sends WATCHDOG=1 every half watchdog interval while probe
// passes (probe gets a quarter interval to answer), until ctx ends. When
// the probe fails, no keep-alive is sent, so systemd restarts the service
// if it does not recover within the interval; each failure is logged. It
// returns at once when there is no watchdog.
func (n *Notifier) KeepAlive(ctx context.Context, probe func(context.Context) error, log *slog.Logger) {
	iv := n.WatchdogInterval()
	if iv <= 0 {
		return
	}
	t := time.NewTicker(iv / 2)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, iv/4)
		err := probe(pctx)
		cancel()
		switch {
		case err == nil:
			if err := n.Notify("WATCHDOG=1"); err != nil {
				log.Warn("systemd watchdog keep-alive failed", "err", err)
			}
		case errors.Is(ctx.Err(), context.Canceled):
			return
		default:
			log.Error("health probe failed: no watchdog keep-alive; systemd restarts the service if this lasts", "err", err, "watchdog", iv)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
