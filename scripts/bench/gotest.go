package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// benchStep is one go test invocation of the run.
type benchStep struct {
	Pkgs      []string // package patterns
	Bench     string   // -bench regexp
	Benchtime string   // -benchtime; "" keeps go test's default of 1s
	Why       string   // why this step has its own benchtime
}

func (s benchStep) args(goBin string) []string {
	args := []string{goBin, "test", "-run", "^$", "-bench", s.Bench, "-benchmem", "-json", "-timeout", "30m"}
	if s.Benchtime != "" {
		args = append(args, "-benchtime", s.Benchtime)
	}
	return append(args, s.Pkgs...)
}

// runGoTest runs one step, printing a progress line per benchmark and
// package to progress, and parses what it printed. A benchmark or package
// that fails is part of the result, not an error; the error is for a go
// test that could not run at all.
func runGoTest(ctx context.Context, goBin string, s benchStep, progress io.Writer) (Run, Step, error) {
	args := s.args(goBin)
	step := Step{Command: shellQuote(args), Note: s.Why}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Run{}, step, fmt.Errorf("go test: %w", err)
	}
	stderr := &tailBuffer{max: 8192}
	cmd.Stderr = io.MultiWriter(progress, stderr)
	start, busy := time.Now(), machineBusy()
	if err := cmd.Start(); err != nil {
		return Run{}, step, fmt.Errorf("start go test: %w", err)
	}
	var raw bytes.Buffer
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		raw.Write(sc.Bytes())
		raw.WriteByte('\n')
		echoProgress(progress, sc.Bytes())
	}
	waitErr := cmd.Wait()
	step.Took = time.Since(start)
	step.CPU = cpuOf(cmd.ProcessState)
	step.Others = othersDuring(busy, step.CPU)
	run, err := ParseJSON(&raw)
	if err != nil {
		return Run{}, step, err
	}
	if waitErr != nil && len(run.Packages) == 0 {
		return Run{}, step, fmt.Errorf("go test: %w: %s", waitErr, lastLine(stderr.String()))
	}
	if ctx.Err() != nil {
		return run, step, fmt.Errorf("go test stopped: %w", ctx.Err())
	}
	return run, step, nil
}

// echoProgress prints a short line for each benchmark result, skip and
// failure and each package's end, so that a long run shows where it is.
func echoProgress(w io.Writer, line []byte) {
	var e testEvent
	if json.Unmarshal(line, &e) != nil {
		return
	}
	pkg := relPkg(e.Package)
	switch {
	case e.Action == "output":
		out := strings.TrimSpace(e.Output)
		if strings.Contains(out, "ns/op") && !strings.HasPrefix(out, "Benchmark") {
			out = e.Test + " " + out // the figures of a name printed before
		}
		if strings.Contains(out, "ns/op") || strings.HasPrefix(out, "--- FAIL") || strings.HasPrefix(out, "--- SKIP") {
			fmt.Fprintf(w, "bench: %s: %s\n", pkg, strings.Join(strings.Fields(out), " "))
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail"):
		fmt.Fprintf(w, "bench: %s: %s (%.1fs)\n", pkg, e.Action, e.Elapsed)
	}
}

// shellQuote writes a command line as one would type it.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$^*?|&;<>()[]{}\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}
