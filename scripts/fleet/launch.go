package main

// The child processes of the fleet: the central service and, with
// --broker mosquitto, a Mosquitto broker. Each is started with
// Pdeathsig=SIGKILL, so it dies with the fleet however the fleet ends.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smartworkcenters/swc/central/server"
)

// binaries are the programs built for a run.
type binaries struct{ central string }

// build compiles swc-central from the repository at root into outDir.
func build(ctx context.Context, root, outDir string) (binaries, error) {
	b := binaries{central: filepath.Join(outDir, "swc-central")}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.central, "./central/cmd/swc-central")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("building swc-central: %w\n%s", err, out)
	}
	return b, nil
}

// repoRoot finds the module's root from the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/smartworkcenters/swc\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run swc-fleet inside the swc repository (no go.mod of github.com/smartworkcenters/swc above the working directory)")
		}
		dir = parent
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// process is a child process whose output goes to a log file.
type process struct {
	name string
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s: log: %w", p.name, err)
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// pid is the running process's id, 0 when none runs.
func (p *process) pid() int {
	if !p.running() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// signal sends sig and waits for the exit; after 30 s it kills.
func (p *process) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func (p *process) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// centralOptions say how to start swc-central serve.
type centralOptions struct {
	bin        string
	dir        string // data folder
	logPath    string
	brokerURL  string // external broker; "" embeds one
	passwdFile string // the central's password on the external broker
}

// central is a running swc-central serve.
type central struct {
	process
	opts     centralOptions
	httpAddr string
	mqttAddr string // the embedded broker's per-door secret listener
	token    string
	client   *http.Client
}

// startCentral starts serve on free loopback ports and waits until its API
// answers.
func startCentral(ctx context.Context, o centralOptions) (*central, error) {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	c := &central{opts: o, httpAddr: fmt.Sprintf("127.0.0.1:%d", ports[0]),
		client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	args := []string{o.bin, "serve", "--data", o.dir, "--http", c.httpAddr, "--log-level", "info"}
	if o.brokerURL != "" {
		args = append(args, "--broker", o.brokerURL, "--broker-password-file", o.passwdFile, "--mqtts", "")
	} else {
		c.mqttAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
		args = append(args, "--mqtt", c.mqttAddr, "--mqtts", fmt.Sprintf("127.0.0.1:%d", ports[2]),
			"--mqtt-service-secret-file", filepath.Join(filepath.Dir(o.dir), "mqtt-service-secret"))
	}
	c.process = process{name: "swc-central", args: args, log: o.logPath}
	if err := c.start(ctx); err != nil {
		c.signal(syscall.SIGKILL)
		return nil, err
	}
	return c, nil
}

// start starts the process and waits until /healthz answers.
func (c *central) start(ctx context.Context) error {
	if err := c.process.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/healthz", nil)
		if resp, err := c.client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if !c.running() {
			return fmt.Errorf("swc-central exited at start:\n%s", c.tail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("swc-central did not answer /healthz within 2m:\n%s", c.tail(30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if c.token == "" {
		b, err := os.ReadFile(filepath.Join(c.opts.dir, server.AdminTokenFile))
		if err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return nil
}

// stop ends serve as an operator does (SIGTERM).
func (c *central) stop() { c.signal(syscall.SIGTERM) }

// kill ends it as a crash does (SIGKILL).
func (c *central) kill() { c.signal(syscall.SIGKILL) }

// restart stops serve with SIGTERM (or SIGKILL when crash) and starts it
// again on the same ports and data.
func (c *central) restart(ctx context.Context, crash bool) error {
	if crash {
		c.kill()
	} else {
		c.stop()
	}
	return c.start(ctx)
}

// apiError is a refused API call.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

// api calls /api/v1 with the admin token: in (if not nil) is sent as JSON,
// the answer decoded into out (if not nil).
func (c *central) api(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+c.httpAddr+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return &apiError{Method: method, Path: path, Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: answer: %w", method, path, err)
		}
	}
	return nil
}

// publicKey is the central's signing key as doors pin it.
func (c *central) publicKey(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, c.opts.bin, "key", "--data", c.opts.dir).Output()
	if err != nil {
		return "", fmt.Errorf("swc-central key: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// usage is a process's resource use so far.
type usage struct {
	RSSBytes   int64   // resident now (VmRSS)
	PeakBytes  int64   // resident at most (VmHWM)
	CPUSeconds float64 // user plus system
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times, on Linux.
const clockTicks = 100

// processUsage reads /proc/PID/status and /proc/PID/stat.
func processUsage(pid int) (usage, error) {
	var u usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("process usage: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) < 1 {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return u, fmt.Errorf("process usage: %s: %w", key, err)
		}
		if key == "VmRSS" {
			u.RSSBytes = kb << 10
		} else {
			u.PeakBytes = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("process usage: %w", err)
	}
	// The command name is in parentheses and may hold spaces: fields count
	// from after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return u, errors.New("process usage: malformed /proc/PID/stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return u, errors.New("process usage: short /proc/PID/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return u, fmt.Errorf("process usage: %w", err)
	}
	u.CPUSeconds = float64(utime+stime) / clockTicks
	return u, nil
}
