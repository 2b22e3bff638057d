package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkProc is a running `swc-edge test ...` (or enroll-badge).
type checkProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

func startCheck(t *testing.T, stdin string, env []string, args ...string) *checkProc {
	t.Helper()
	p := &checkProc{t: t, cmd: edgeCmd(context.Background(), args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.Stdin = strings.NewReader(stdin)
	p.cmd.Env = append(p.cmd.Env, env...)
	require.NoError(t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitFor waits until the output shows s.
func (p *checkProc) waitFor(s string) {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for !strings.Contains(p.stdout.String(), s) {
		select {
		case <-p.done:
			p.t.Fatalf("exited before showing %q:\nstdout:\n%s\nstderr:\n%s", s, p.stdout, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("never showed %q:\nstdout:\n%s\nstderr:\n%s", s, p.stdout, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exit waits for the end and returns the exit status.
func (p *checkProc) exit() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(2 * wait):
		p.t.Fatalf("did not end:\nstdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestCheckReader(t *testing.T) {
	s := newSite(t, "")
	p := startCheck(t, "", nil, "test", "reader", "--config", s.config, "--wait", "60s")
	p.waitFor("Tap a badge on the reader")
	out, errOut, code := swcEdge(t, "tap", "--config", s.config, "--uid", "04A1B2C3D4E5F6")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "presented to the simulated reader of a running check")
	require.Equal(t, 0, p.exit(), "stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	for _, want := range []string{
		"Reader: MFRC522 on SPI0.0 (/dev/spidev0.0)",
		"chip version:   MFRC522 v2.0 (0x92)",
		"self-test:      passed",
		"badge:          UID 04A1B2C3D4E5F6  ATQA 4400  SAK 08  MIFARE Classic 1K (7-byte UID)",
		"Reader OK.",
	} {
		assert.Contains(t, p.stdout.String(), want)
	}
}

// TestCheckReaderFailures: each fault of the simulated reader gives its own
// failure, and says what to check.
func TestCheckReaderFailures(t *testing.T) {
	tests := []struct {
		name, sim, wait string
		want            []string
	}{
		{"nothing answers", "reader_fault_at_start = true", "30s", []string{
			"FAILED: the reader's chip does not answer", "SDA to GPIO8 (pin 24)", "dtparam=spi=on in /boot/firmware/config.txt",
			"ls -l /dev/spidev0.0", "/dev/gpiomem", "groups spi and gpio"}},
		{"an unknown chip", "reader_version = 85", "30s", []string{"FAILED: the chip answers with version 0x55", "MISO/MOSI/SCK"}},
		{"a damaged chip", "reader_self_test_fails = true", "30s", []string{"FAILED: the chip's digital self-test failed", "replace it"}},
		{"no badge", "", "1s", []string{"self-test:      passed", "FAILED: no badge was read within 1s", "125 kHz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t, "[sim]\n"+tc.sim+"\n")
			out, errOut, code := swcEdge(t, "test", "reader", "--config", s.config, "--wait", tc.wait)
			require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
}

func TestCheckRelay(t *testing.T) {
	s := newSite(t, "")
	p := startCheck(t, "y\n", nil, "test", "relay", "--config", s.config, "--seconds", "1s")
	require.Equal(t, 0, p.exit(), "stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	assert.Contains(t, p.stdout.String(), "Relay: GPIO5 drives the relay (on when low), fail_secure lock.")
	assert.Contains(t, p.stdout.String(), "sim-gpio.log")
	assert.Contains(t, p.stdout.String(), "Relay OK.")
	j := s.journal()
	require.Contains(t, j, "unlocked", "the relay was pulsed")
	assert.Equal(t, "locked", last(j), "and locked again")

	p = startCheck(t, "n\n", nil, "test", "relay", "--config", s.config, "--seconds", "1s")
	require.Equal(t, 1, p.exit())
	for _, want := range []string{"FAILED: the technician saw no relay action", "IN1 to GPIO5", "door.lock_active_low = true", "COM and NO", "group gpio"} {
		assert.Contains(t, p.stdout.String(), want)
	}
	assert.Equal(t, "locked", last(s.journal()))
}

func TestCheckInputs(t *testing.T) {
	s := newSite(t, "")
	p := startCheck(t, "", nil, "test", "inputs", "--config", s.config, "--for", "5m")
	p.waitFor("Watching for 5m0s")
	// Each change is shown (timestamped) before the next is made.
	for _, step := range []struct {
		args []string
		show string
	}{
		{[]string{"door", "open"}, "s  door contact: OPEN"},
		{[]string{"door", "close"}, "s  door contact: closed"},
		{[]string{"exit"}, "s  exit button:  released"},
	} {
		_, errOut, code := swcEdge(t, append([]string{"sim", "--config", s.config}, step.args...)...)
		require.Equal(t, 0, code, errOut)
		p.waitFor(step.show)
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	require.Equal(t, 0, p.exit(), "stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	text := p.stdout.String()
	for _, want := range []string{"door contact: closed (GPIO6, nc switch)", "door contact: OPEN", "exit button:  PRESSED", "door contact: OK (2 changes)", "exit button:  OK (2 changes)", "Inputs OK."} {
		assert.Contains(t, text, want)
	}
	assert.Less(t, strings.Index(text, "door contact: OPEN"), strings.Index(text, "exit button:  PRESSED"), "changes shown as they happen")

	out, errOut, code := swcEdge(t, "test", "inputs", "--config", s.config, "--for", "1s")
	require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	for _, want := range []string{"FAILED: no change seen on the door contact and exit button", "between GPIO6 (header pin 31) and GND", "door.input_pull"} {
		assert.Contains(t, out, want)
	}
}

func TestChecksRefuseWhileTheAgentRuns(t *testing.T) {
	s := newSite(t, "")
	p := s.start()
	_, errOut, code := swcEdge(t, "test", "relay", "--config", s.config)
	require.Equal(t, 1, code)
	assert.Contains(t, errOut, "the door agent (or another check) is running")
	assert.Contains(t, errOut, "sudo systemctl stop swc-edge")
	assert.Equal(t, 0, p.stop(t, syscall.SIGTERM))

	_, errOut, code = swcEdge(t, "test", "frobnicate", "--config", s.config)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
	assert.Contains(t, errOut, "  reader ")
	assert.Contains(t, errOut, "  relay ")
	assert.Contains(t, errOut, "  inputs ")
}

// badgeAPI plays the central's POST /api/v1/badges.
type badgeAPI struct {
	mu   sync.Mutex
	got  []map[string]string
	auth []string
}

func (b *badgeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req map[string]string
	_ = json.Unmarshal(body, &req)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, req)
	b.auth = append(b.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path != "/api/v1/badges" || r.Method != "POST":
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"code":"not_found","message":"no such endpoint"}`))
	case len(b.got) > 1:
		w.WriteHeader(409)
		_, _ = w.Write([]byte(`{"code":"duplicate_badge_uid","field":"uid","message":"this badge UID already belongs to a badge"}`))
	default:
		w.WriteHeader(201)
		_, _ = w.Write(body)
	}
}

func TestEnrollBadge(t *testing.T) {
	s := newSite(t, "")
	api := &badgeAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	env := []string{"SWC_API_TOKEN=swct_technician"}
	args := []string{"enroll-badge", "--config", s.config, "--member", "m1", "--central", srv.URL, "--wait", "60s"}

	p := startCheck(t, "", env, args...)
	p.waitFor("Tap the badge of member m1")
	_, errOut, code := swcEdge(t, "tap", "--config", s.config, "--uid", "04A1B2C3")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 0, p.exit(), "stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
	assert.Contains(t, p.stdout.String(), "UID 04A1B2C3  ATQA 0400  SAK 08")
	assert.Contains(t, p.stdout.String(), "Badge 04A1B2C3 is registered for member m1.")
	api.mu.Lock()
	assert.Equal(t, []map[string]string{{"uid": "04A1B2C3", "member_id": "m1"}}, api.got)
	assert.Equal(t, []string{"Bearer swct_technician"}, api.auth)
	api.mu.Unlock()

	// The same badge again: the central's refusal, in words.
	p = startCheck(t, "", env, args...)
	p.waitFor("Tap the badge of member m1")
	_, errOut, code = swcEdge(t, "tap", "--config", s.config, "--uid", "04A1B2C3")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, p.exit())
	assert.Contains(t, p.stderr.String(), "badge 04A1B2C3 is already registered")

	// No token, a central over plain http elsewhere: refused before the
	// reader is touched.
	_, errOut, code = swcEdge(t, args...)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "$SWC_API_TOKEN")
	cmd := edgeCmd(context.Background(), "enroll-badge", "--config", s.config, "--member", "m1", "--central", "http://central.example.org")
	cmd.Env = append(cmd.Env, env...)
	out, _ := cmd.CombinedOutput()
	assert.Equal(t, 2, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "refusing plain http://")
}
