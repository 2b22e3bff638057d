package ingest

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/smartworkcenters/swc/shared/protocol"
)

// What the ingest writes to its log about what a door sent. A door's input
// reaches the log only as a bounded excerpt (of the error, which may quote
// it), and a door that keeps sending
// bad messages is logged a few times per window, then summarised: the log
// of a flood is a few kilobytes whatever its size, while the metrics count
// every message by reason.
const (
	// rejectLogWindow is the period over which a door's rejections are
	// logged at most rejectLogBurst times; the rest are summarised in one
	// line when the window has passed.
	rejectLogWindow = 10 * time.Second
	// rejectLogBurst is how many rejections of a door are logged in full
	// (as excerpts) per window.
	rejectLogBurst = 5
	// errExcerptBytes bounds the error text of a rejection in the log (a
	// decoding error may quote the payload: an unknown field's name, a bad
	// id's value).
	errExcerptBytes = 256
	// topicExcerptBytes bounds a topic in the log (the ACL keeps a door on
	// its own topics, but a topic that does not parse is logged too).
	topicExcerptBytes = 128
)

// logLimiter rate-limits log lines per door: each door may log burst lines
// per window; what goes beyond is counted by reason and summarised in one
// line once the window has passed (on the door's next line, or by flush,
// which Run calls every window). It is a value of the Ingest, with the
// Ingest's clock, and forgets a door once its window is over and summarised,
// so it holds only doors that logged in the last window.
type logLimiter struct {
	now    func() time.Time
	window time.Duration
	burst  int
	log    *slog.Logger
	msg    string // the summary's message

	mu    sync.Mutex
	doors map[string]*logWindow
}

// logWindow is one door's current window.
type logWindow struct {
	start      time.Time
	logged     int
	suppressed map[string]int // by reason
}

func newLogLimiter(now func() time.Time, window time.Duration, burst int, log *slog.Logger, msg string) *logLimiter {
	return &logLimiter{now: now, window: window, burst: burst, log: log, msg: msg, doors: map[string]*logWindow{}}
}

// allow reports whether a line about door (for reason) may be logged now;
// when it may not, the line is counted for the door's summary. A summary of
// the door's previous window is logged first when that window has passed.
func (l *logLimiter) allow(door, reason string) bool {
	now := l.now()
	l.mu.Lock()
	w := l.doors[door]
	var ended *logWindow
	if w != nil && now.Sub(w.start) >= l.window {
		ended, w = w, nil
	}
	if w == nil {
		w = &logWindow{start: now}
		l.doors[door] = w
	}
	ok := w.logged < l.burst
	if ok {
		w.logged++
	} else {
		if w.suppressed == nil {
			w.suppressed = map[string]int{}
		}
		w.suppressed[reason]++
	}
	l.mu.Unlock()
	if ended != nil {
		l.summarise(door, ended, now)
	}
	return ok
}

// flush summarises and forgets every door whose window has passed.
func (l *logLimiter) flush() {
	now := l.now()
	ended := map[string]*logWindow{}
	l.mu.Lock()
	for door, w := range l.doors {
		if now.Sub(w.start) >= l.window {
			ended[door] = w
			delete(l.doors, door)
		}
	}
	l.mu.Unlock()
	doors := make([]string, 0, len(ended))
	for d := range ended {
		doors = append(doors, d)
	}
	sort.Strings(doors)
	for _, d := range doors {
		l.summarise(d, ended[d], now)
	}
}

// summarise logs how many lines of door's window w were suppressed, by
// reason; nothing when none were.
func (l *logLimiter) summarise(door string, w *logWindow, now time.Time) {
	total := 0
	reasons := make([]string, 0, len(w.suppressed))
	for r, n := range w.suppressed {
		total += n
		reasons = append(reasons, r)
	}
	if total == 0 {
		return
	}
	sort.Strings(reasons)
	byReason := make([]any, 0, len(reasons))
	for _, r := range reasons {
		byReason = append(byReason, slog.Int(r, w.suppressed[r]))
	}
	l.log.Warn(l.msg, "door", door, "suppressed", total, slog.Group("reasons", byReason...),
		"since", w.start.UTC().Format(time.RFC3339), "over", now.Sub(w.start).Round(time.Second).String())
}

// logRejection logs one rejected message: excerpts of its topic and error,
// with the sizes of the error and the payload. The payload itself is not
// logged (it may hold badge UIDs and member ids); the error names the field
// and the problem.
func (in *Ingest) logRejection(m Message, door, code string, err error) {
	msg := err.Error()
	in.log.Warn("rejected message from door", "topic", protocol.Excerpt(m.Topic(), topicExcerptBytes), "door", door, "reason", code,
		"err", protocol.Excerpt(msg, errExcerptBytes), "err_bytes", len(msg), "payload_bytes", len(m.Payload()))
}

// flushLogs logs the summaries of the windows that have passed, every
// window, until ctx ends: a door that stopped sending still gets its
// summary.
func (in *Ingest) flushLogs(ctx context.Context) {
	t := time.NewTicker(rejectLogWindow)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			in.rejectLog.flush()
			in.mergeLog.flush()
		case <-ctx.Done():
			return
		}
	}
}
