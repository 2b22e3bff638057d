package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/server"
)

// TestMain lets the test binary run as swc-central itself, so that the
// tests below start it as a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SWC_CENTRAL_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// lockedBuffer is a bytes.Buffer that a child process's output is copied
// into while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listening = regexp.MustCompile(`HTTP API listening"? addr=(\S+)`)

// serveProcess starts `swc-central serve` on dir and returns its HTTP
// address, its standard output so far, and a stop function that sends
// SIGTERM and returns the exit error.
func serveProcess(t *testing.T, dir string) (addr, stdout string, stop func() error) {
	t.Helper()
	addr, stdout, _, stop = serveProcessLog(t, dir)
	return addr, stdout, stop
}

// serveProcessLog is serveProcess with more flags, returning its log
// (standard error) as it grows too.
func serveProcessLog(t *testing.T, dir string, flags ...string) (addr, stdout string, log *lockedBuffer, stop func() error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--mqtts", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"}, flags...)...)
	cmd.Env = append(os.Environ(), "SWC_CENTRAL_AS_MAIN=1")
	log = &lockedBuffer{}
	out := &lockedBuffer{}
	cmd.Stdout = out
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = log.Write(append(sc.Bytes(), '\n'))
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr = <-found:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("swc-central serve did not start listening within 30 s")
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return cmd.Wait()
	}
	t.Cleanup(func() { _ = stop() })
	return addr, out.String(), log, stop
}

func get(t *testing.T, addr, token, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServeProcess starts swc-central serve as a process in an empty
// folder, stops it with SIGTERM, starts it again on the same folder and
// checks the key, token and data are reused.
func TestServeProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr, _, stop := serveProcess(t, dir)
	tokenFile := filepath.Join(dir, server.AdminTokenFile)
	raw, err := os.ReadFile(tokenFile)
	require.NoError(t, err)
	token := strings.TrimSpace(string(raw))
	code, body := get(t, addr, token, "/api/v1/whoami")
	require.Equal(t, http.StatusOK, code, body)

	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/centers", strings.NewReader(`{"id":"c1","name":"One","time_zone":"Europe/Brussels"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	require.NoError(t, stop(), "a clean exit on SIGTERM")

	var keyOut, keyErr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"key", "--data", dir}, &keyOut, &keyErr), keyErr.String())
	pub := strings.TrimSpace(keyOut.String())
	require.True(t, strings.HasPrefix(pub, "ed25519:"), pub)

	addr, stdout, stop := serveProcess(t, dir)
	require.NotContains(t, stdout, "admin API token")
	code, body = get(t, addr, token, "/api/v1/centers/c1")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, stop())

	keyOut.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"key", "--data", dir}, &keyOut, &keyErr))
	require.Equal(t, pub, strings.TrimSpace(keyOut.String()), "the second start kept the key")
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 2, run(context.Background(), nil, &out, &errOut))
	require.Contains(t, errOut.String(), "usage")
	require.Equal(t, 2, run(context.Background(), []string{"frobnicate"}, &out, &errOut))
	require.Equal(t, 2, run(context.Background(), []string{"serve", "--broker", "http://x"}, &out, &errOut))
	require.Contains(t, errOut.String(), "--broker")
	require.Equal(t, 2, run(context.Background(), []string{"serve", "--db", "mysql://x"}, &out, &errOut))
	require.Equal(t, 2, run(context.Background(), []string{"serve", "--log-level", "loud"}, &out, &errOut))
	for _, bad := range []string{"0.0.0.0/0", "proxy.example"} {
		errOut.Reset()
		require.Equal(t, 2, run(context.Background(), []string{"serve", "--trusted-proxies", bad}, &out, &errOut))
		require.Contains(t, errOut.String(), "trusted-proxies", bad)
		require.Contains(t, errOut.String(), bad)
	}
}

// TestBrokerCert issues Mosquitto's files from the CA of a data folder (the
// one serve uses: the same CA), keys private.
func TestBrokerCert(t *testing.T) {
	dir, out := filepath.Join(t.TempDir(), "data"), filepath.Join(t.TempDir(), "certs")
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"broker-cert", "--data", dir, "--out", out}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "--hosts is required")

	stderr.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"broker-cert", "--data", dir, "--out", out, "--hosts", "mqtt.example.org, 10.0.0.5"}, &stdout, &stderr), stderr.String())
	ca, err := enroll.LoadOrCreateCA(dir, server.CAName, time.Now())
	require.NoError(t, err)
	require.Contains(t, stdout.String(), ca.Fingerprint())
	require.Contains(t, stdout.String(), "--broker mqtts://mqtt.example.org:8883")
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "broker.pem": 0o644, "broker-key.pem": 0o600, "swc-central.pem": 0o644, "swc-central-key.pem": 0o600} {
		fi, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err, name)
		require.Equal(t, mode, fi.Mode().Perm(), name)
	}
	kp, err := tls.LoadX509KeyPair(filepath.Join(out, "broker.pem"), filepath.Join(out, "broker-key.pem"))
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(kp.Certificate[0])
	require.NoError(t, err)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "mqtt.example.org"})
	require.NoError(t, err)
	require.NoError(t, leaf.VerifyHostname("10.0.0.5"))
	svc, err := tls.LoadX509KeyPair(filepath.Join(out, "swc-central.pem"), filepath.Join(out, "swc-central-key.pem"))
	require.NoError(t, err)
	sl, err := x509.ParseCertificate(svc.Certificate[0])
	require.NoError(t, err)
	name, service, err := ca.Identify(sl, time.Now())
	require.NoError(t, err)
	require.Equal(t, server.ServiceUser, name)
	require.True(t, service)
}
