package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// envMain makes the test binary run swc-edge's main: tests start swc-edge
// as a real process by re-executing themselves (through SWC_TEST_EXEC, so
// that under qemu the child runs under qemu too).
const envMain = "SWC_EDGE_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		os.Exit(cli(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const wait = 60 * time.Second // generous: under qemu every child is slow

func edgeCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := servicetest.Command(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), envMain+"=1")
	return cmd
}

// swcEdge runs one swc-edge command to completion.
func swcEdge(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*wait)
	defer cancel()
	cmd := edgeCmd(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("swc-edge %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// syncBuffer is a bytes.Buffer safe for a child's writes and a test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// site is a simulated door's folder: configuration, signing key, data.
type site struct {
	t       testing.TB
	dir     string
	config  string
	keyFile string
	base    string
}

func newSite(t testing.TB, extra string) *site {
	t.Helper()
	s := &site{t: t, dir: t.TempDir()}
	s.keyFile = filepath.Join(s.dir, "central.key")
	out, errOut, code := swcEdge(t, "whitelist", "keygen", "--out", s.keyFile)
	require.Equal(t, 0, code, errOut)
	keys := regexp.MustCompile(`keys = \[.*\]`).FindString(out)
	require.NotEmpty(t, keys, out)
	port := servicetest.FreePort(t)
	s.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.config = filepath.Join(s.dir, "swc-edge.toml")
	s.writeConfig(fmt.Sprintf(`door_id = "door-7"
data_dir = %q
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
contact_pin = "GPIO6"
rex_pin = "GPIO13"
unlock_time = "1s"
[policy]
debounce = "1m"
[clock]
ntp = "assume_synced"
[whitelist]
%s
[http]
listen = "127.0.0.1:%d"
[store]
open_timeout = "500ms"
%s`, filepath.Join(s.dir, "data"), keys, port, extra))
	return s
}

func (s *site) writeConfig(text string) {
	require.NoError(s.t, os.WriteFile(s.config, []byte(text), 0o600))
}

// sign signs a snapshot of entries and returns the messages file.
func (s *site) sign(version int, entries []protocol.Entry) string {
	s.t.Helper()
	in := filepath.Join(s.dir, fmt.Sprintf("entries-%d.json", version))
	data, err := json.Marshal(entries)
	require.NoError(s.t, err)
	require.NoError(s.t, os.WriteFile(in, data, 0o600))
	out, errOut, code := swcEdge(s.t, "whitelist", "sign", "--key", s.keyFile, "--door", "door-7", "--version", fmt.Sprint(version), "--center", "c-1", in)
	require.Equal(s.t, 0, code, errOut)
	path := filepath.Join(s.dir, fmt.Sprintf("wl-%d.ndjson", version))
	require.NoError(s.t, os.WriteFile(path, []byte(out), 0o600))
	return path
}

// journal returns the simulated relay's states, in order.
func (s *site) journal() []string {
	data, err := os.ReadFile(filepath.Join(s.dir, "data", "sim-gpio.log"))
	if err != nil {
		return nil
	}
	var states []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 {
			states = append(states, f[3])
		}
	}
	return states
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// agentProc is a running `swc-edge run`.
type agentProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

func (s *site) start() *agentProc {
	s.t.Helper()
	p := &agentProc{cmd: edgeCmd(context.Background(), "run", "--config", s.config), stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.stderr
	require.NoError(s.t, p.cmd.Start())
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.done:
			s.t.Fatalf("swc-edge run exited at start: %s", p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("swc-edge run did not listen within %v: %s", wait, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends sig and returns the exit status.
func (p *agentProc) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
	case <-time.After(wait):
		t.Fatalf("swc-edge run did not stop on %v: %s", sig, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (s *site) eventually(cond func() bool, what string) {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *site) tap(uid protocol.UID) protocol.Event {
	s.t.Helper()
	out, errOut, code := swcEdge(s.t, "tap", "--config", s.config, "--uid", string(uid), "--json")
	require.Equal(s.t, 0, code, errOut)
	var ev protocol.Event
	require.NoError(s.t, json.Unmarshal([]byte(out), &ev), out)
	return ev
}

func (s *site) outbox() []protocol.Event {
	s.t.Helper()
	resp, err := http.Get(s.base + "/v1/outbox?max=500")
	require.NoError(s.t, err)
	defer resp.Body.Close()
	var evs []protocol.Event
	require.NoError(s.t, json.NewDecoder(resp.Body).Decode(&evs))
	return evs
}

var (
	uidBooked  = protocol.UID("04A1B2C3")
	uidRevoked = protocol.UID("04A1B2C4")
	uidLater   = protocol.UID("04A1B2C3D4E5F6")
	uidPass    = protocol.UID("04A1B2C6")
	uidUnknown = protocol.UID("04FFFFFF")
	uidNew     = protocol.UID("04A1B2C7")
)

func entries(now time.Time) []protocol.Entry {
	h := time.Hour
	return []protocol.Entry{
		{UID: uidBooked, Member: "m-booked", Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Add(-h).Unix(), To: now.Add(2 * h).Unix(), Ref: "bk-1"}}},
		{UID: uidRevoked, Member: "m-revoked", Revoked: true, Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Add(-h).Unix(), To: now.Add(2 * h).Unix()}}},
		{UID: uidLater, Member: "m-later", Grants: []protocol.Grant{{Kind: protocol.GrantBooking, From: now.Add(5 * h).Unix(), To: now.Add(6 * h).Unix()}}},
		{UID: uidPass, Member: "m-pass", Grants: []protocol.Grant{{Kind: protocol.GrantPass, From: now.Add(-h).Unix(), To: now.Add(24 * h).Unix()}}},
	}
}

// TestSimulatedDoorEndToEnd runs `swc-edge run` as a real process on
// simulated hardware, loads a signed whitelist with `swc-edge whitelist
// load`, taps with `swc-edge tap`, and checks the relay pulse in the
// simulated GPIO journal, the events in the outbox and their reason codes.
func TestSimulatedDoorEndToEnd(t *testing.T) {
	s := newSite(t, "")
	out, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, entries(time.Now())))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "the agent is not running: loading into")
	assert.Contains(t, out, "applied; the door holds whitelist version 1")

	p := s.start()
	ev := s.tap(uidBooked)
	assert.Equal(t, protocol.GrantedBooking, ev.Reason)
	assert.Equal(t, "m-booked", ev.Member)
	s.eventually(func() bool {
		j := s.journal()
		i := strings.Index(strings.Join(j, " "), "unlocked locked")
		return i >= 0
	}, "the relay pulsed: unlocked, then locked again")

	tests := []struct {
		uid  protocol.UID
		want protocol.Reason
	}{
		{uidUnknown, protocol.DeniedUnknownBadge},
		{uidRevoked, protocol.DeniedRevoked},
		{uidLater, protocol.DeniedOutsideWindow},
		{uidPass, protocol.GrantedPass},
		{uidPass, protocol.DeniedDebounce}, // within policy.debounce of the previous tap
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, s.tap(tt.uid).Reason, "badge %s", tt.uid)
	}

	evs := s.outbox()
	require.Len(t, evs, 6)
	want := []protocol.Reason{protocol.GrantedBooking, protocol.DeniedUnknownBadge, protocol.DeniedRevoked, protocol.DeniedOutsideWindow, protocol.GrantedPass, protocol.DeniedDebounce}
	for i, e := range evs {
		assert.Equal(t, uint64(i+1), e.Seq)
		assert.Equal(t, protocol.EventTap, e.Kind)
		assert.Equal(t, want[i], e.Reason, "event %d", e.Seq)
		assert.Equal(t, uint64(1), e.WLVersion)
		assert.True(t, e.Trusted)
		require.NoError(t, e.Validate(""))
	}

	out, errOut, code = swcEdge(t, "status", "--config", s.config)
	require.Equal(t, 0, code, errOut)
	for _, w := range []string{"door        door-7", "whitelist   version 1", "4 badges", "outbox      6 events waiting (seq 1 to 6)", "clock       trusted (ntp)", "reader      ok",
		"held open   after 30s (door.held_open_time; no whitelist has carried the network's)"} {
		assert.Contains(t, out, w)
	}

	// A new version while the agent runs goes through its local API.
	out, errOut, code = swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(2, append(entries(time.Now()), protocol.Entry{UID: uidNew, Member: "m-new", Grants: []protocol.Grant{{Kind: protocol.GrantStaff}}})))
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "not running")
	assert.Contains(t, out, "version 2")
	ev = s.tap(uidNew)
	assert.Equal(t, protocol.GrantedStaff, ev.Reason)
	assert.Equal(t, uint64(2), ev.WLVersion)

	// A replayed old version is refused and changes nothing.
	_, errOut, code = swcEdge(t, "whitelist", "load", "--config", s.config, filepath.Join(s.dir, "wl-1.ndjson"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "version is not newer")

	require.Equal(t, 0, p.stop(t, syscall.SIGTERM), p.stderr.String())
	assert.Equal(t, "locked", last(s.journal()))
	assert.Contains(t, p.stderr.String(), "relay locked")

	out, errOut, code = swcEdge(t, "status", "--config", s.config)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "agent not running")
	assert.Contains(t, out, "whitelist   version 2")
	assert.Contains(t, out, "held open   after 30s (door.held_open_time")
	assert.Contains(t, out, "7 events waiting")
}

// TestSignalsLockTheRelay unlocks the door for 30 s with a granted badge
// and stops the agent with each signal: the relay is locked when the
// process has exited, and the exit is clean.
func TestSignalsLockTheRelay(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := newSite(t, "")
			cfg, err := os.ReadFile(s.config)
			require.NoError(t, err)
			s.writeConfig(strings.Replace(string(cfg), `unlock_time = "1s"`, `unlock_time = "30s"`, 1))
			_, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, entries(time.Now())))
			require.Equal(t, 0, code, errOut)
			p := s.start()
			assert.Equal(t, protocol.GrantedBooking, s.tap(uidBooked).Reason)
			s.eventually(func() bool { return last(s.journal()) == "unlocked" }, "relay unlocked")
			require.Equal(t, 0, p.stop(t, sig), p.stderr.String())
			assert.Equal(t, "locked", last(s.journal()), "relay locked after %v: %v", sig, s.journal())
			assert.Contains(t, p.stderr.String(), "relay locked")
		})
	}
}

// TestStartFailuresKeepTheDoorLocked checks that the agent exits with a
// message a technician understands, and that the relay is never unlocked.
func TestStartFailuresKeepTheDoorLocked(t *testing.T) {
	tests := []struct {
		name     string
		config   func(good string) string // from the site's good configuration
		code     int
		want     []string
		noGPIO   bool // the relay was not even touched
		wantLock bool // the journal shows the relay locked
	}{
		{name: "bad configuration", config: func(good string) string {
			return strings.NewReplacer(`"door-7"`, `"door 7"`, `driver = "sim"`, `driver = "rc522"`, `lock_pin = "GPIO5"`, "", `unlock_time = "1s"`, `unlock_time = "90s"`).Replace(good)
		}, code: 2, want: []string{`door_id = "door 7"`, `reader.driver = "rc522": want one of ["mfrc522" "sim"]`, "door.lock_pin is missing", "door.unlock_time = 1m30s: want 1s to 30s"}, noGPIO: true},
		{name: "reader does not answer", config: func(good string) string { return good + "[sim]\nreader_fault_at_start = true\n" },
			code: 1, want: []string{"cannot start", "the badge reader does not answer", "check the reader's 3.3 V and GND"}, wantLock: true},
		{name: "MFRC522 on a machine without its GPIO or SPI", config: func(good string) string {
			return strings.Replace(good, `driver = "sim"`, `driver = "mfrc522"`, 1)
		}, code: 1, want: []string{"cannot start", "the door stays locked"}, noGPIO: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t, "")
			good, err := os.ReadFile(s.config)
			require.NoError(t, err)
			s.writeConfig(tt.config(string(good)))
			_, errOut, code := swcEdge(t, "run", "--config", s.config)
			assert.Equal(t, tt.code, code, errOut)
			for _, w := range tt.want {
				assert.Contains(t, errOut, w)
			}
			t.Logf("what the technician reads:\n%s", errOut)
			j := s.journal()
			assert.NotContains(t, j, "unlocked", "the relay never unlocked")
			if tt.noGPIO {
				assert.Empty(t, j)
			}
			if tt.wantLock {
				assert.Equal(t, "locked", last(j))
			}
		})
	}
}

func TestSecondAgentIsRefused(t *testing.T) {
	s := newSite(t, "")
	p := s.start()
	defer p.stop(t, syscall.SIGTERM)

	// Same data folder, another port: the database is in use.
	cfg, err := os.ReadFile(s.config)
	require.NoError(t, err)
	other := filepath.Join(s.dir, "second.toml")
	port := servicetest.FreePort(t)
	require.NoError(t, os.WriteFile(other, regexp.MustCompile(`listen = "127.0.0.1:\d+"`).ReplaceAll(cfg, []byte(fmt.Sprintf(`listen = "127.0.0.1:%d"`, port))), 0o600))
	_, errOut, code := swcEdge(t, "run", "--config", other)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "in use by another process")
	assert.Contains(t, errOut, "is another swc-edge running?")

	// Another data folder, the same port: cannot listen.
	other2 := filepath.Join(s.dir, "third.toml")
	require.NoError(t, os.WriteFile(other2, bytes.Replace(cfg, []byte(filepath.Join(s.dir, "data")), []byte(filepath.Join(s.dir, "data3")), 1), 0o600))
	_, errOut, code = swcEdge(t, "run", "--config", other2)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "cannot listen")
	assert.Equal(t, "locked", last(s.journal()))
}

func TestRuntimeReaderFaultInTheRealProcess(t *testing.T) {
	s := newSite(t, "")
	_, errOut, code := swcEdge(t, "whitelist", "load", "--config", s.config, s.sign(1, entries(time.Now())))
	require.Equal(t, 0, code, errOut)
	p := s.start()
	_, errOut, code = swcEdge(t, "sim", "--config", s.config, "reader", "fail")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = swcEdge(t, "tap", "--config", s.config, "--uid", string(uidBooked))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "reader not answering")
	out, _, _ := swcEdge(t, "status", "--config", s.config)
	assert.Contains(t, out, "reader      fault")
	_, errOut, code = swcEdge(t, "sim", "--config", s.config, "reader", "ok")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, protocol.GrantedBooking, s.tap(uidBooked).Reason)
	var kinds []string
	for _, e := range s.outbox() {
		kinds = append(kinds, string(e.Kind))
	}
	assert.Equal(t, []string{"reader_fault", "reader_ok", "tap"}, kinds)
	assert.Contains(t, p.stderr.String(), "badge reader not answering; the door stays locked")
	assert.NotContains(t, strings.Join(s.journal()[:2], " "), "unlocked")
	require.Equal(t, 0, p.stop(t, syscall.SIGTERM))
}

func TestCommandLineErrors(t *testing.T) {
	s := newSite(t, "")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: swc-edge COMMAND"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "--config", filepath.Join(s.dir, "missing.toml")}, 2, "no such file"},
		{[]string{"tap", "--config", s.config, "--uid", "zz"}, 2, "not hexadecimal"},
		{[]string{"tap", "--config", s.config, "--uid", "04A1B2C3"}, 1, "no agent answers"},
		{[]string{"sim", "--config", s.config, "door", "ajar"}, 2, "want `door open`"},
		{[]string{"whitelist", "load", "--config", s.config}, 2, "name one or more files"},
		{[]string{"whitelist", "keygen", "--out", s.keyFile}, 1, "exists"},
		{[]string{"check", "--config", s.config}, 1, "OK    configuration " + s.config + ": door door-7, reader sim"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := swcEdge(t, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Contains(t, out+errOut, tt.want)
		})
	}
}
