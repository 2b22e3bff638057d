// Package launch builds the project's commands and runs them as child
// processes, for the demo, the fleet simulator and the benchmark report:
// a swc-central serve that is up when StartCentral returns, an API client
// holding its admin token, and the resident memory and CPU time of a
// process read from /proc.
package launch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binaries are the built commands.
type Binaries struct {
	Central string // swc-central
	Edge    string // swc-edge
}

// RepoRoot is the folder of the module's go.mod, found from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/smartworkcenters/swc\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the swc repository: no go.mod of github.com/smartworkcenters/swc above the working directory")
		}
		dir = parent
	}
}

// Build compiles swc-central and swc-edge (CGO_ENABLED=0) from the
// repository at root into outDir.
func Build(ctx context.Context, root, outDir string) (Binaries, error) {
	b := Binaries{Central: filepath.Join(outDir, "swc-central"), Edge: filepath.Join(outDir, "swc-edge")}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return b, fmt.Errorf("build folder: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", outDir+string(filepath.Separator), "./central/cmd/swc-central", "./edge/cmd/swc-edge")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return b, nil
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Proc is a child process whose output is appended to a log file. It is
// killed when this process dies (Linux's parent-death signal), so that an
// interrupted run leaves nothing behind, and runs in its own process group.
type Proc struct {
	Name string
	Args []string // the command and its arguments
	Log  string   // file the output is appended to
	Env  []string // added to this process's environment

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts the process; a Proc that stopped may be started again.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isDone(p.done) {
		return fmt.Errorf("%s: already running", p.Name)
	}
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("%s: log file: %w", p.Name, err)
	}
	cmd := exec.Command(p.Args[0], p.Args[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), p.Env...)
	// A process group of its own: a Ctrl-C in the terminal reaches only
	// this process, which stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: start: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

func isDone(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Running reports whether the process was started and has not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isDone(p.done)
}

// PID is the process id of the last start (0 before any).
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Done is closed when the last started process exits.
func (p *Proc) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// ExitCode is the last process's exit code (-1 while running or when it
// was ended by a signal).
func (p *Proc) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Signal sends sig and waits up to grace for the exit, then kills.
func (p *Proc) Signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isDone(done) {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop ends the process as an operator would (SIGTERM, then SIGKILL after
// 20 s).
func (p *Proc) Stop() { p.Signal(syscall.SIGTERM, 20*time.Second) }

// Kill ends it as a crash would.
func (p *Proc) Kill() { p.Signal(syscall.SIGKILL, 20*time.Second) }

// LogTail is the last n lines of the log.
func (p *Proc) LogTail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
