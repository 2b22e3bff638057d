package launch

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Usage is what a process holds and has spent, from /proc.
type Usage struct {
	RSSBytes     uint64  // resident now (VmRSS)
	PeakRSSBytes uint64  // resident at most (VmHWM)
	CPUSeconds   float64 // user + system time so far
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go builds for.
const clockTicks = 100

// ProcessUsage reads /proc/PID/status and /proc/PID/stat.
func ProcessUsage(pid int) (Usage, error) {
	var u Usage
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			u.RSSBytes = kb << 10
		case "VmHWM:":
			u.PeakRSSBytes = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: count fields from
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return u, fmt.Errorf("process %d: unexpected /proc stat line", pid)
	}
	rest := strings.Fields(string(stat[i+1:]))
	if len(rest) < 13 {
		return u, fmt.Errorf("process %d: short /proc stat line", pid)
	}
	utime, err1 := strconv.ParseUint(rest[11], 10, 64)
	stime, err2 := strconv.ParseUint(rest[12], 10, 64)
	if err1 != nil || err2 != nil {
		return u, fmt.Errorf("process %d: /proc stat times: %v %v", pid, err1, err2)
	}
	u.CPUSeconds = float64(utime+stime) / clockTicks
	return u, nil
}
