package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// limitedCentral is `swc-central serve` run as a child process whose open
// file limit is fdLimit (soft and hard, set by the shell's ulimit before it
// execs the central), with both MQTT listeners on loopback.
type limitedCentral struct {
	t     *testing.T
	http  string // host:port of the API
	mqtt  string // the secret listener
	mqtts string // the certificate listener
	token string // the admin token
	pid   int
}

const fdLimit = 256

func startLimitedCentral(t *testing.T, connectTimeout time.Duration) *limitedCentral {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	c := &limitedCentral{t: t,
		mqtt:  fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t)),
		mqtts: fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t))}
	cmd := exec.Command("sh", "-c", `ulimit -n `+strconv.Itoa(fdLimit)+` && exec "$@"`, "sh", os.Args[0],
		"serve", "--data", dir, "--http", "127.0.0.1:0", "--hosts", "127.0.0.1",
		"--mqtt", c.mqtt, "--mqtts", c.mqtts, "--mqtt-connect-timeout", connectTimeout.String())
	cmd.Env = append(os.Environ(), "SWC_CENTRAL_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c.pid = cmd.Process.Pid
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	select {
	case c.http = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("swc-central serve did not start listening within 30 s")
	}
	raw, err := os.ReadFile(filepath.Join(dir, server.AdminTokenFile))
	require.NoError(t, err)
	c.token = strings.TrimSpace(string(raw))
	return c
}

var maxOpenFiles = regexp.MustCompile(`(?m)^Max open files\s+(\d+)\s+(\d+)`)

// openFileLimit is the child's open-file limit as the kernel reports it.
func (c *limitedCentral) openFileLimit() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", c.pid))
	require.NoError(c.t, err)
	m := maxOpenFiles.FindSubmatch(b)
	require.NotNil(c.t, m, "%s", b)
	n, err := strconv.Atoi(string(m[1]))
	require.NoError(c.t, err)
	return n
}

func (c *limitedCentral) call(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.http+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res.StatusCode, b
}

func (c *limitedCentral) must(method, path string, body any) []byte {
	c.t.Helper()
	code, b := c.call(method, path, body)
	require.Less(c.t, code, 300, "%s %s: %s", method, path, b)
	return b
}

// metric returns the sum of the samples of a metric family whose labels
// contain label (such as `listener="swc"`).
func (c *limitedCentral) metric(name, label string) float64 {
	c.t.Helper()
	_, b := c.call("GET", "/metrics", nil)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		require.NoError(c.t, err, line)
		sum += v
	}
	return sum
}

// doorCredentials creates door d in center c1 and returns its secret for
// the secret listener, and the TLS configuration (certificate from an
// enrollment, as swc-edge provision gets it) for the certificate listener.
func (c *limitedCentral) doorCredentials(door string) (secret string, tc *tls.Config) {
	c.t.Helper()
	c.must("POST", "/api/v1/doors", map[string]any{"id": door, "center_id": "c1", "name": door})
	var sec struct {
		Secret string `json:"secret"`
	}
	require.NoError(c.t, json.Unmarshal(c.must("POST", "/api/v1/doors/"+door+"/secret", nil), &sec))
	var tok enroll.Token
	require.NoError(c.t, json.Unmarshal(c.must("POST", "/api/v1/doors/"+door+"/enrollments", nil), &tok))
	key, err := enroll.NewKey()
	require.NoError(c.t, err)
	csr, err := enroll.NewCSR(key, "")
	require.NoError(c.t, err)
	code, b := c.call("POST", "/api/v1/enroll", protocol.EnrollRequest{V: 1, Token: tok.Secret, CSR: string(csr)})
	require.Equal(c.t, http.StatusOK, code, "%s", b)
	e, err := protocol.DecodeEnrollment(b)
	require.NoError(c.t, err)
	require.Equal(c.t, "mqtts://"+c.mqtts, e.Broker)
	kp, err := enroll.KeyPair([]byte(e.Certificate), key)
	require.NoError(c.t, err)
	pool := x509.NewCertPool()
	require.True(c.t, pool.AppendCertsFromPEM([]byte(e.CA)))
	return sec.Secret, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
}

// connectDoor connects a door as swc-edge does (client id = door id) over
// the secret listener (with its secret) or the certificate listener (tc),
// and disconnects it.
func connectDoor(broker, door, secret string, tc *tls.Config) error {
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(door).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(20 * time.Second).SetProtocolVersion(4)
	if tc != nil {
		o.SetTLSConfig(tc)
	} else {
		o.SetUsername(door).SetPassword(secret)
	}
	cl := paho.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(30 * time.Second) {
		return fmt.Errorf("connect %s to %s: no CONNACK within 30 s", door, broker)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("connect %s to %s: %w", door, broker, err)
	}
	cl.Disconnect(0)
	return nil
}

// TestIdleConnectionsUnderFileLimit is issue 14's reproduction of item 1,
// on the central as a process: under an open-file limit of 256, 300 TCP
// connections that never send anything are opened to each MQTT listener
// (more than the process can hold, so its accepts fail with EMFILE). While
// they are still open, doors connect over both listeners: the connect
// deadline closes the idle ones, which frees descriptors, and the listeners
// accept again. Then the idle connections are closed, doors connect again
// and /readyz is ready with its listeners accepting.
func TestIdleConnectionsUnderFileLimit(t *testing.T) {
	c := startLimitedCentral(t, time.Second)
	require.Equal(t, fdLimit, c.openFileLimit(), "the central runs under the low open-file limit")
	c.must("POST", "/api/v1/centers", map[string]any{"id": "c1", "name": "One", "time_zone": "UTC"})
	secret, tc := c.doorCredentials("door-1")
	require.NoError(t, connectDoor("tcp://"+c.mqtt, "door-1", secret, nil), "before the idle connections")
	require.NoError(t, connectDoor("ssl://"+c.mqtts, "door-1", "", tc), "before the idle connections")

	var idle []net.Conn
	defer func() {
		for _, conn := range idle {
			_ = conn.Close()
		}
	}()
	for _, addr := range []string{c.mqtt, c.mqtts} {
		for range 300 {
			conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
			require.NoError(t, err, "the kernel queues the connection even when the central cannot accept it")
			idle = append(idle, conn)
		}
	}

	// The idle connections are still open.
	assert.NoError(t, connectDoor("tcp://"+c.mqtt, "door-1", secret, nil), "secret listener, during the idle connections")
	assert.NoError(t, connectDoor("ssl://"+c.mqtts, "door-1", "", tc), "certificate listener, during the idle connections")

	for _, conn := range idle {
		require.NoError(t, conn.Close())
	}
	idle = nil
	assert.NoError(t, connectDoor("tcp://"+c.mqtt, "door-1", secret, nil), "secret listener, after the idle connections")
	assert.NoError(t, connectDoor("ssl://"+c.mqtts, "door-1", "", tc), "certificate listener, after the idle connections")

	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	require.Eventually(t, func() bool {
		code, b := c.call("GET", "/readyz", nil)
		require.NoError(t, json.Unmarshal(b, &ready), "%s", b)
		return code == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond, "ready again")
	assert.Equal(t, map[string]string{"store": "ok", "broker": "ok", "mqtt_listeners": "ok"}, ready.Checks)

	for _, l := range []string{`listener="swc"`, `listener="swc-tls"`} {
		assert.Positive(t, c.metric("swc_broker_accept_errors_total", l), "the central ran out of descriptors on %s", l)
		assert.Positive(t, c.metric("swc_broker_connect_timeouts_total", l), "idle connections closed on %s", l)
	}
}
