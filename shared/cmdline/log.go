package cmdline

import (
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
	LogJournal = "journal" // key=value lines without time=: journald stamps each line itself
)

// LogFormats lists the formats, for flag help and errors.
const LogFormats = "text, json or journal"

// NewLogger returns a logger writing to w in format at level. format "" or
// "text" becomes "journal" when w is the stream systemd's journal reads
// (JOURNAL_STREAM names w's device and inode), so that lines under
// journald carry no second time.
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
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want %s", format, LogFormats)
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
