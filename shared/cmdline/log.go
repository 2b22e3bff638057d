package cmdline

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
)

// Log formats of --log-format.
const (
	LogText    = "text"    // key=value lines with their time
	LogJSON    = "json"    // one JSON object a line, for log shippers
	LogJournal = "journal" // key=value lines without time=, with a syslog priority prefix for journald
)

// LogFormats lists the formats, for flag help and errors.
const LogFormats = "text, json or journal"

// NewLogger returns a logger writing to w in format at level. format "" or
// "text" becomes "journal" when w is the stream systemd's journal reads
// (JOURNAL_STREAM names w's device and inode), so that lines under
// journald carry no second time and their priority is the level's.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if (format == "" || format == LogText) && toJournal(w, os.Getenv("JOURNAL_STREAM")) {
		format = LogJournal
	}
	switch format {
	case "", LogText:
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case LogJSON:
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case LogJournal:
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
		return slog.New(slog.NewTextHandler(journalWriter{w}, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want %s", format, LogFormats)
}

// journalWriter puts the syslog priority of each line's level in front of
// it ("<3>level=ERROR ..."), which journald reads (and strips) so that
// `journalctl -p err` finds the errors. The text handler writes each record
// in one Write, starting with level= once time= is left out.
type journalWriter struct{ w io.Writer }

func (j journalWriter) Write(p []byte) (int, error) {
	prio := "<6>"
	for _, l := range []struct{ level, prio string }{{"level=ERROR", "<3>"}, {"level=WARN", "<4>"}, {"level=INFO", "<6>"}, {"level=DEBUG", "<7>"}} {
		if bytes.HasPrefix(p, []byte(l.level)) {
			prio = l.prio
			break
		}
	}
	if _, err := j.w.Write(append([]byte(prio), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// toJournal reports whether w is the file named by JOURNAL_STREAM
// ("DEVICE:INODE", set by systemd when it connects stdout or stderr to
// the journal).
func toJournal(w io.Writer, journalStream string) bool {
	f, ok := w.(*os.File)
	if journalStream == "" || !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fmt.Sprintf("%d:%d", st.Dev, st.Ino) == journalStream
}
