package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Machine is what the report says about the computer the run used.
type Machine struct {
	CPU       string // model name from /proc/cpuinfo
	Cores     int    // logical CPUs the run could use
	MemoryMiB int64
	OS        string // PRETTY_NAME of /etc/os-release
	Kernel    string
	Arch      string
	GoVersion string // of the go command that ran the benchmarks
	Hostname  string
}

// Source is the code the run measured.
type Source struct {
	Commit  string
	Subject string
	Dirty   []string // changed or untracked files, besides the report itself
}

// readMachine describes this machine. What it cannot read is left "unknown".
func readMachine(ctx context.Context, goBin string) Machine {
	m := Machine{CPU: "unknown", OS: "unknown", Kernel: "unknown", Arch: runtime.GOARCH, GoVersion: "unknown", Cores: runtime.NumCPU()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemoryMiB = memTotalMiB(string(data))
	}
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		m.OS = osName(string(data))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	if out, err := exec.CommandContext(ctx, goBin, "env", "GOVERSION").Output(); err == nil {
		m.GoVersion = strings.TrimSpace(string(out))
	}
	m.Hostname, _ = os.Hostname()
	return m
}

// cpuModel is the first "model name" (x86) or "Model"/"Hardware" (ARM)
// of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	found := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, seen := found[k]; !seen && v != "" {
			found[k] = v
		}
	}
	for _, k := range []string{"model name", "Model", "Hardware", "cpu model"} {
		if v, ok := found[k]; ok {
			return v
		}
	}
	return "unknown"
}

func memTotalMiB(meminfo string) int64 {
	for _, l := range strings.Split(meminfo, "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func osName(osRelease string) string {
	for _, l := range strings.Split(osRelease, "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return "unknown"
}

// readSource is the commit of the working tree and what differs from it,
// leaving out the report file, which the run itself rewrites.
func readSource(ctx context.Context, report string) (Source, error) {
	out, err := exec.CommandContext(ctx, "git", "log", "-1", "--format=%H %s").Output()
	if err != nil {
		return Source{}, fmt.Errorf("git log: %w", err)
	}
	var s Source
	s.Commit, s.Subject, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	out, err = exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=all").Output()
	if err != nil {
		return Source{}, fmt.Errorf("git status: %w", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if len(l) < 4 {
			continue
		}
		if path := strings.TrimSpace(l[3:]); path != report {
			s.Dirty = append(s.Dirty, path)
		}
	}
	return s, nil
}

// cpuClock reads the machine's busy CPU time and this process's children's
// CPU time, to tell how much CPU something outside the run used meanwhile.
type cpuClock struct {
	at       time.Time
	busy     time.Duration // all CPUs, every process
	children time.Duration // processes this run started and waited for
}

// machineBusy is the busy CPU time of every process since boot.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return statBusy(data)
}

func readCPUClock() cpuClock {
	c := cpuClock{at: time.Now(), busy: machineBusy()}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
		c.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err == nil {
		c.children += time.Duration(self.Utime.Nano() + self.Stime.Nano())
	}
	return c
}

// statBusy sums the non-idle jiffies of the "cpu" line of /proc/stat
// (USER_HZ is 100 on Linux).
func statBusy(stat []byte) time.Duration {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is inside user
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// cpuOf is the CPU time of a finished command and of the processes it
// waited for (for go test: the builds and the test binaries).
func cpuOf(ps *os.ProcessState) time.Duration {
	if ps == nil {
		return 0
	}
	return ps.UserTime() + ps.SystemTime()
}

// othersDuring is the CPU time the rest of the machine used while a
// command that used own CPU ran, from the machine's busy time before it.
func othersDuring(busyBefore, own time.Duration) time.Duration {
	after := machineBusy()
	if busyBefore <= 0 || after <= 0 {
		return 0
	}
	return max(0, after-busyBefore-own)
}

// Load is how busy the machine was during the run.
type Load struct {
	Wall   time.Duration
	Run    time.Duration // CPU time of this run's processes
	Others time.Duration // CPU time of everything else (including the PostgreSQL server the benchmarks use)
}

// OthersCores is the average number of cores the rest of the machine kept busy.
func (l Load) OthersCores() float64 {
	if l.Wall <= 0 {
		return 0
	}
	return l.Others.Seconds() / l.Wall.Seconds()
}

func loadBetween(a, b cpuClock) Load {
	l := Load{Wall: b.at.Sub(a.at), Run: b.children - a.children}
	if b.busy > 0 {
		l.Others = max(0, b.busy-a.busy-l.Run)
	}
	return l
}
