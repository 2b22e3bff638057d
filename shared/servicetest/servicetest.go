// Package servicetest finds and starts the real services that integration
// tests use: a Mosquitto broker (started per test from SWC_TEST_MOSQUITTO on a
// free loopback port with the test's own configuration) and a PostgreSQL
// server (SWC_TEST_POSTGRES_URL). When a variable is absent the test is
// skipped with a message naming it, unless SWC_REQUIRE_SERVICES=1, which
// turns the skip into a failure. Only tests import this package.
package servicetest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables.
const (
	EnvMosquitto = "SWC_TEST_MOSQUITTO"
	EnvPostgres  = "SWC_TEST_POSTGRES_URL"
	EnvRequire   = "SWC_REQUIRE_SERVICES"
	// EnvExec names a wrapper (such as qemu-arm-static) for child processes of
	// tests that run under `go test -exec`.
	EnvExec = "SWC_TEST_EXEC"
)

// need returns the variable's value or skips (or fails) the test.
func need(t testing.TB, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: this test needs %s", env, what)
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s (and %s=1 requires every service)", msg, EnvRequire)
	}
	t.Skip(msg)
	return ""
}

// PostgresURL returns the PostgreSQL URL for tests.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return need(t, EnvPostgres, "a PostgreSQL server URL such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

// MosquittoBinary returns the path of the mosquitto binary for tests.
func MosquittoBinary(t testing.TB) string {
	t.Helper()
	return need(t, EnvMosquitto, "the path of a mosquitto binary, such as /usr/sbin/mosquitto")
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Mosquitto is a broker process started for one test.
type Mosquitto struct {
	Addr string // host:port of the main listener
	Port int
	Dir  string // working directory holding the config and log

	t      testing.TB
	bin    string
	config string
	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
}

// StartMosquitto starts mosquitto on a free loopback port. extra is appended
// to the generated configuration (listener options go after the listener line,
// so extra may add "require_certificate true" and the like). The broker is
// stopped when the test ends. "{{dir}}" in extra becomes the broker's folder.
func StartMosquitto(t testing.TB, extra string) *Mosquitto {
	t.Helper()
	return StartMosquittoConfig(t, "listener {{port}} 127.0.0.1\nallow_anonymous true\npersistence false\n"+extra)
}

// StartMosquittoConfig starts mosquitto with a whole configuration of the
// test's own, in which "{{port}}" becomes a free loopback port and "{{dir}}"
// the broker's folder (for certificates, ACL files and persistence). Logging
// to a file in that folder is added. The first listener must use {{port}}.
func StartMosquittoConfig(t testing.TB, conf string) *Mosquitto {
	t.Helper()
	return StartMosquittoConfigWith(t, conf, nil)
}

// StartMosquittoConfigWith is StartMosquittoConfig with a function that puts
// files (certificates, ACLs) into the broker's folder before it starts.
func StartMosquittoConfigWith(t testing.TB, conf string, files func(dir string)) *Mosquitto {
	t.Helper()
	bin := MosquittoBinary(t)
	dir := t.TempDir()
	if files != nil {
		files(dir)
	}
	port := FreePort(t)
	conf = strings.NewReplacer("{{port}}", fmt.Sprint(port), "{{dir}}", dir).Replace(conf)
	if os.Geteuid() == 0 {
		// Started as root, mosquitto drops to the "mosquitto" user, which
		// cannot read the test's private folder; keep the test's user.
		conf = "user root\n" + conf
	}
	conf += fmt.Sprintf("\nlog_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\n", filepath.Join(dir, "mosquitto.log"))
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatalf("mosquitto config: %v", err)
	}
	m := &Mosquitto{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, Dir: dir, t: t, bin: bin, config: path}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

// Start starts (or restarts) the broker process and waits until it accepts
// connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "-c", m.config)
	cmd.Dir = m.Dir
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto %s: %v", m.bin, err)
	}
	done := make(chan struct{})
	var out strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(m.Dir, "mosquitto.log"))
			m.t.Fatalf("mosquitto exited at start: %s%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto did not listen on %s within 10s", m.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.cmd, m.done = cmd, done
}

// Stop stops the broker (SIGTERM, then SIGKILL after 5 s). It is idempotent.
func (m *Mosquitto) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// Kill stops the broker with SIGKILL, as a crash would.
func (m *Mosquitto) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

// Log returns the broker's log so far.
func (m *Mosquitto) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.Dir, "mosquitto.log"))
	return string(b)
}

// Command returns an exec.Cmd for a child process of a test, wrapped in
// SWC_TEST_EXEC when set (so that an ARM test binary's children also run
// under qemu).
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	if wrap := os.Getenv(EnvExec); wrap != "" {
		return exec.CommandContext(ctx, wrap, append([]string{name}, args...)...)
	}
	return exec.CommandContext(ctx, name, args...)
}

// MosquittoPassword returns a password_file line for user, hashed the way
// Mosquitto 2.0 reads it ($6$: salted SHA-512).
func MosquittoPassword(user, password string) string {
	salt := make([]byte, 12)
	_, _ = rand.Read(salt)
	sum := sha512.Sum512(append([]byte(password), salt...))
	return user + ":$6$" + base64.StdEncoding.EncodeToString(salt) + "$" + base64.StdEncoding.EncodeToString(sum[:])
}

// Reload makes the broker read its password and ACL files again (SIGHUP).
func (m *Mosquitto) Reload() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		_ = m.cmd.Process.Signal(syscall.SIGHUP)
	}
}
