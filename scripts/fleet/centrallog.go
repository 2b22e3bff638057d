package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// compiledMsg marks the line the central logs at each start once it has
// loaded the network and compiled the whitelists (central/server's
// newCompiler), with load=, compile= and took= as Go durations. The
// central runs with its default text log, so the message is quoted.
const compiledMsg = `msg="serve: whitelists loaded and compiled"`

// centralLog is the central's log file: every start of it appends there.
func (f *fleet) centralLog() string { return filepath.Join(f.tmp, "central.log") }

// readStartupCompile fills the figure of the central's last start-up
// compile from its log. The figure is for people and the benchmark report,
// not a check: a log it cannot read or a line it cannot parse is a warning
// and leaves the figure at 0 (not measured); the run does not fail for it.
func (f *fleet) readStartupCompile() {
	path := f.centralLog()
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return // the run ended before the central started: its own error says why
	}
	if err != nil {
		f.log.Warn("central start-up compile not read", "log", path, "err", err)
		return
	}
	defer file.Close()
	took, starts, err := lastStartupCompile(file)
	switch {
	case err != nil:
		f.log.Warn("central start-up compile not read", "log", path, "starts", starts, "err", err)
	case starts == 0:
		f.log.Warn("central start-up compile not found: its log has no \"serve: whitelists loaded and compiled\" line", "log", path)
	default:
		f.res.StartupCompileS = round(took.Seconds(), 3)
		f.log.Info("central start-up compile", "starts", starts, "last_took", took)
	}
}

// lastStartupCompile reads a central's text log and returns the took= of
// its last "serve: whitelists loaded and compiled" line, and how many such
// lines (starts) it holds. The error says the last line's took= could not
// be read: an earlier start's figure is not returned in its place, since
// the figure wanted is the last start's (after a restart fault).
func lastStartupCompile(r io.Reader) (took time.Duration, starts int, err error) {
	// A Reader rather than a Scanner: a long line elsewhere in the log
	// (an error with a large excerpt) must not stop the reading.
	br := bufio.NewReader(r)
	var last string
	for {
		line, readErr := br.ReadString('\n')
		if strings.Contains(line, compiledMsg) {
			starts++
			last = line
		}
		if errors.Is(readErr, io.EOF) {
			break
		}
		if readErr != nil {
			return 0, starts, fmt.Errorf("reading the central's log: %w", readErr)
		}
	}
	if starts == 0 {
		return 0, 0, nil
	}
	took, err = tookOf(last)
	return took, starts, err
}

// tookOf is the took= attribute of a start-up compile line.
func tookOf(line string) (time.Duration, error) {
	// The attributes follow the message; a took= inside the message or
	// before it is not the one.
	_, attrs, _ := strings.Cut(line, compiledMsg)
	for _, field := range strings.Fields(attrs) {
		v, ok := strings.CutPrefix(field, "took=")
		if !ok {
			continue
		}
		d, err := time.ParseDuration(v)
		if err == nil && d < 0 {
			err = errors.New("negative")
		}
		if err != nil {
			return 0, fmt.Errorf("the central's last start-up compile line: took=%s: %w", v, err)
		}
		return d, nil
	}
	return 0, errors.New("the central's last start-up compile line has no took=")
}
