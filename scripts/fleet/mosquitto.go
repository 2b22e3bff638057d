package main

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/central/broker"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/protocol"
)

// mosquitto is a Mosquitto broker the fleet runs on a free loopback port,
// with a password file for the central and every door and the ACL the
// product ships.
type mosquitto struct {
	launch.Proc
	dir  string
	addr string
}

// startMosquitto writes the configuration into dir and starts bin.
// maxConns is how many clients it must take (the doors and the central).
func startMosquitto(ctx context.Context, bin, dir string, maxConns int) (*mosquitto, error) {
	addr, err := launch.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	m := &mosquitto{dir: dir, addr: addr}
	conf := fmt.Sprintf(`listener %s 127.0.0.1
allow_anonymous false
password_file %s
acl_file %s
persistence false
max_packet_size %d
max_queued_messages 100000
max_inflight_messages 100
max_connections %d
log_dest stderr
log_type error
log_type warning
log_type notice
`, port, filepath.Join(dir, "passwd"), filepath.Join(dir, "acl"), protocol.MaxMessageSize+broker.DefaultPacketOverhead, maxConns)
	if os.Geteuid() == 0 {
		// Started as root, mosquitto would drop to the "mosquitto" user,
		// which cannot read the fleet's private folder.
		conf = "user root\n" + conf
	}
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("mosquitto: %w", err)
	}
	// Until the doors exist: only the ACL and an empty password file.
	if err := m.writeAccounts("", nil); err != nil {
		return nil, err
	}
	m.Proc = launch.Proc{Name: "mosquitto", Args: []string{bin, "-c", path}, Log: filepath.Join(dir, "mosquitto.log")}
	if err := m.start(ctx); err != nil {
		m.Kill()
		return nil, err
	}
	return m, nil
}

// start starts the broker and waits until it accepts connections.
func (m *mosquitto) start(ctx context.Context) error {
	if err := m.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if !m.Running() {
			return fmt.Errorf("mosquitto exited at start:\n%s", m.LogTail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto did not listen on %s within 20s:\n%s", m.addr, m.LogTail(20))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// restart stops the broker (SIGTERM) and starts it again on the same port.
func (m *mosquitto) restart(ctx context.Context) error {
	m.Stop()
	return m.start(ctx)
}

// writeAccounts writes the password file (the central's service account
// and every door's secret) and the shipped ACL; a running broker rereads
// them on SIGHUP.
func (m *mosquitto) writeAccounts(servicePassword string, doors []doorSpec) error {
	var pw strings.Builder
	if servicePassword != "" {
		line, err := mosquittoPassword(server.ServiceUser, servicePassword)
		if err != nil {
			return err
		}
		pw.WriteString(line + "\n")
	}
	for _, d := range doors {
		line, err := mosquittoPassword(d.ID, d.Secret)
		if err != nil {
			return err
		}
		pw.WriteString(line + "\n")
	}
	if err := os.WriteFile(filepath.Join(m.dir, "passwd"), []byte(pw.String()), 0o600); err != nil {
		return fmt.Errorf("mosquitto password file: %w", err)
	}
	acl, err := broker.MosquittoACL(protocol.DefaultTopics(), server.ServiceUser)
	if err != nil {
		return fmt.Errorf("mosquitto ACL: %w", err)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "acl"), []byte(acl), 0o600); err != nil {
		return fmt.Errorf("mosquitto ACL: %w", err)
	}
	return nil
}

// reload makes the broker read its password and ACL files again.
func (m *mosquitto) reload() error {
	pid := m.PID()
	if pid == 0 || !m.Running() {
		return errors.New("mosquitto is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("mosquitto reload: %w", err)
	}
	return nil
}

// mosquittoPassword is a password_file line for user, hashed as Mosquitto
// 2.0 reads it: $6$ salt $ base64(SHA-512(password + salt)).
func mosquittoPassword(user, password string) (string, error) {
	salt := make([]byte, 12)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := sha512.Sum512(append([]byte(password), salt...))
	return user + ":$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(sum[:]), nil
}
