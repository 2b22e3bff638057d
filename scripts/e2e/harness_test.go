package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartworkcenters/swc/central/server"
	"github.com/smartworkcenters/swc/edge/agent"
	"github.com/smartworkcenters/swc/scripts/internal/launch"
	"github.com/smartworkcenters/swc/shared/protocol"
	"github.com/smartworkcenters/swc/shared/servicetest"
)

// wait bounds every "eventually" of these tests: generous, because they run
// real processes on a shared 2-core machine. What the product promises in
// seconds is measured by the benchmarks, not asserted here.
const wait = 60 * time.Second

// bins are the swc-central and swc-edge binaries built for this run.
var bins struct{ central, edge string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "swc-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.central, bins.edge = filepath.Join(dir, "swc-central"), filepath.Join(dir, "swc-edge")
	for out, pkg := range map[string]string{bins.central: "./central/cmd/swc-central", bins.edge: "./edge/cmd/swc-edge"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = filepath.Join("..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n%s", pkg, err, b)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a child process (launch.Proc: its output in a log file, killed
// with the test binary) bound to a test.
type proc struct {
	launch.Proc
	t testing.TB
}

// start starts the process, failing the test when it cannot.
func (p *proc) start() {
	p.t.Helper()
	require.NoError(p.t, p.Proc.Start(), p.Name)
}

func (p *proc) running() bool { return p.Running() }

// stop ends the process as an operator would (SIGTERM).
func (p *proc) stop() { p.Stop() }

// kill ends it as a crash would (SIGKILL).
func (p *proc) kill() { p.Kill() }

func (p *proc) logText() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// central is a swc-central serve process.
type central struct {
	proc
	dir      string
	httpAddr string
	mqttAddr string // the embedded broker; empty with an external one
	token    string
	http     *http.Client
}

type centralOpts struct {
	name       string
	dir        string   // data folder; shared by replicas for the signing key
	brokerURL  string   // external broker
	passwdFile string   // the central's password on it
	db         string   // PostgreSQL URL
	token      string   // an API token, for a replica whose store already has one
	args       []string // more serve flags
}

func startCentral(t testing.TB, o centralOpts) *central {
	t.Helper()
	if o.name == "" {
		o.name = "central"
	}
	if o.dir == "" {
		o.dir = filepath.Join(t.TempDir(), "data")
	}
	c := &central{dir: o.dir, token: o.token, httpAddr: fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t)), http: &http.Client{Timeout: 30 * time.Second}}
	args := []string{bins.central, "serve", "--data", o.dir, "--http", c.httpAddr, "--log-level", "info"}
	if o.brokerURL != "" {
		args = append(args, "--broker", o.brokerURL, "--broker-password-file", o.passwdFile)
	} else {
		c.mqttAddr = fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t))
		args = append(args, "--mqtt", c.mqttAddr, "--mqtt-service-secret-file", filepath.Join(o.dir, "..", "mqtt-service-secret"),
			// The doors here log in with secrets; the certificate listener
			// (on by default at :8883) gets a port of its own.
			"--mqtts", fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t)))
	}
	if o.db != "" {
		args = append(args, "--db", o.db)
	}
	args = append(args, o.args...)
	c.proc = proc{t: t, Proc: launch.Proc{Name: o.name, Args: args, Log: filepath.Join(filepath.Dir(o.dir), o.name+".log")}}
	// Registered before the start, so that a start that fails the test
	// leaves no process behind.
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", c.Name, tail(c.logText(), 40))
		}
	})
	c.start()
	return c
}

// start starts (or restarts) the process and waits until the API answers.
func (c *central) start() {
	c.t.Helper()
	c.proc.start()
	deadline := time.Now().Add(wait)
	for {
		resp, err := c.http.Get("http://" + c.httpAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if !c.running() {
			c.t.Fatalf("%s exited at start:\n%s", c.Name, tail(c.logText(), 40))
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s did not come up:\n%s", c.Name, tail(c.logText(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.token == "" {
		b, err := os.ReadFile(filepath.Join(c.dir, server.AdminTokenFile))
		require.NoError(c.t, err)
		c.token = strings.TrimSpace(string(b))
	}
}

func (c *central) api(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+c.httpAddr+"/api/v1"+path, rd)
	require.NoError(c.t, err)
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (c *central) must(method, path string, body any) []byte {
	c.t.Helper()
	code, out := c.api(method, path, body)
	require.Less(c.t, code, 300, "%s %s: %s", method, path, out)
	return out
}

// sequence is what the central stored of a door's events.
type sequence struct {
	Through uint64           `json:"through"`
	Max     uint64           `json:"max"`
	Gaps    []map[string]any `json:"gaps"` // {store, from, to}
}

func (c *central) sequence(door string) sequence {
	c.t.Helper()
	var s sequence
	require.NoError(c.t, json.Unmarshal(c.must("GET", "/doors/"+door+"/sequence", nil), &s))
	return s
}

// publicKey is the central's signing key as doors pin it.
func (c *central) publicKey() string {
	c.t.Helper()
	out, err := exec.Command(bins.central, "key", "--data", c.dir).Output()
	require.NoError(c.t, err)
	return strings.TrimSpace(string(out))
}

// metric reads one sample of the central's /metrics.
func (c *central) metric(sample string) float64 {
	c.t.Helper()
	return scrape(c.t, "http://"+c.httpAddr+"/metrics", sample)
}

// scrape reads one sample (name and labels, as exposed) from a /metrics
// page; 0 when it is absent.
func scrape(t testing.TB, url, sample string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			var v float64
			_, _ = fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// door is a swc-edge run process on simulated hardware, connected to its
// broker through a proxy the test controls.
type door struct {
	proc
	id     string
	dir    string
	config string
	http   string
	link   *servicetest.Proxy
}

type doorOpts struct {
	id     string
	broker string // host:port the proxy forwards to
	secret string
	key    string // the central's public key
	extra  string // more [mqtt] settings
}

func startDoor(t testing.TB, o doorOpts) *door {
	t.Helper()
	dir := t.TempDir()
	d := &door{id: o.id, dir: dir, http: fmt.Sprintf("127.0.0.1:%d", servicetest.FreePort(t)), link: servicetest.StartProxy(t, o.broker)}
	d.config = filepath.Join(dir, "swc-edge.toml")
	cfg := doorTOML(o.id, filepath.Join(dir, "data"), o.key, d.http, d.link.Addr(), o.secret, o.extra)
	require.NoError(t, os.WriteFile(d.config, []byte(cfg), 0o600))
	d.proc = proc{t: t, Proc: launch.Proc{Name: o.id, Args: []string{bins.edge, "run", "--config", d.config}, Log: filepath.Join(dir, "swc-edge.log")}}
	t.Cleanup(func() {
		d.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", d.id, tail(d.logText(), 30))
		}
	})
	d.start()
	return d
}

// doorTOML is the configuration of a test door on simulated hardware whose
// MQTT sync reaches broker (host:port) with its secret.
func doorTOML(id, dataDir, key, listen, broker, secret, extra string) string {
	return fmt.Sprintf(`door_id = %q
data_dir = %q
[reader]
driver = "sim"
[door]
lock_pin = "GPIO5"
unlock_time = "1s"
[clock]
ntp = "assume_synced"
[policy]
# The tests tap one badge many times in a row; a person's repeat is slower.
debounce = "50ms"
[whitelist]
keys = [%q]
[http]
listen = %q
[mqtt]
broker = "tcp://%s"
password = %q
retransmit = "2s"
max_reconnect = "2s"
status_interval = "2s"
%s
`, id, dataDir, key, listen, broker, secret, extra)
}

// start starts (or restarts) the agent and waits until it answers.
func (d *door) start() {
	d.t.Helper()
	d.proc.start()
	deadline := time.Now().Add(wait)
	for {
		if _, err := d.report(); err == nil {
			return
		}
		if !d.running() {
			d.t.Fatalf("%s exited at start:\n%s", d.id, tail(d.logText(), 30))
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s did not come up:\n%s", d.id, tail(d.logText(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *door) report() (agent.Report, error) {
	var rep agent.Report
	resp, err := http.Get("http://" + d.http + "/v1/status")
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return rep, fmt.Errorf("status %d", resp.StatusCode)
	}
	return rep, json.NewDecoder(resp.Body).Decode(&rep)
}

func (d *door) outbox() uint64 {
	d.t.Helper()
	rep, err := d.report()
	require.NoError(d.t, err)
	return rep.Outbox.Depth
}

func (d *door) whitelistVersion() uint64 {
	d.t.Helper()
	rep, err := d.report()
	require.NoError(d.t, err)
	return rep.Whitelist.Version
}

// burst records n taps of one badge at the door (the decision and journal
// path, without the reader).
func (d *door) burst(n int, uid protocol.UID) agent.SimBurstResult {
	d.t.Helper()
	res, err := simBurst(d.http, n, uid)
	require.NoError(d.t, err)
	return res
}

// tap presents a badge to the simulated reader with `swc-edge tap`, as a
// person would, and returns the decision.
func (d *door) tap(uid protocol.UID) protocol.Reason {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	out, err := exec.CommandContext(ctx, bins.edge, "tap", "--json", "--config", d.config, "--uid", string(uid)).Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		out = append(out, exit.Stderr...) // what swc-edge tap said went wrong
	}
	require.NoError(d.t, err, "%s", out)
	var ev protocol.Event
	require.NoError(d.t, json.Unmarshal(out, &ev), "%s", out)
	return ev.Reason
}

func eventually(t testing.TB, cond func() bool, format string, args ...any) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting: %s", wait, fmt.Sprintf(format, args...))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

func readFile(parts ...string) (string, error) {
	b, err := os.ReadFile(filepath.Join(parts...))
	return string(b), err
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	return k
}
