package posting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/smartworkcenters/swc/central/audit"
	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/ingest"
	"github.com/smartworkcenters/swc/central/store"
)

// Replicas sharing a PostgreSQL store (Config.Cursor).
//
// Exactly one replica, the crediting leader (the server elects it with a
// PostgreSQL advisory lock), runs Run: it posts every event any replica
// stored, read through the store's posting cursor (store.PostingCursor),
// to the ledger in one goroutine, in the order they were read. Its own
// ingest's commits only wake it; it also reads every Config.PollEvery for
// the other replicas' commits. The ledger recomputes a member's periods
// from the stored events, so posting an event twice (a new leader reading
// again from the last recorded position) changes nothing: a handover
// neither doubles nor loses credit. After each update the leader records
// its positions: posted (the read whose events of members are all in the
// ledger) and resume (every event below it is credited; a new leader reads
// from there). Each leader takes a new epoch as it starts, and its ledger
// writes check it: a leader that lost its lock and has not noticed yet
// cannot overwrite what its successor computed. A leader of the build that
// last rebuilt the open periods does not rebuild them again, so a handover
// takes about the lock's retry (2 s) and the directory's load.
//
// Domain changes made on a follower reach the leader's directory through
// the replicas' change notes (NOTIFY), a moment after their commit; the
// ledger follows them once they arrive.
//
// The other replicas (followers) do not run Run. Their reads (Settlement,
// Statement) show the ledger the leader persisted, once it has posted every
// event of a member committed before the read (Sync waits for it, at most
// Config.FollowWait), with a directory and settings read again when older
// than Config.FollowReload. A follower closes a period itself: closing
// rebuilds the period from every stored event, and the store rejects a
// concurrent update of the leader computed before the close (credit.Store),
// which the leader then computes again as adjustments.

// Defaults of the replica settings of Config.
const (
	DefaultPollEvery    = 500 * time.Millisecond
	DefaultFollowWait   = 10 * time.Second
	DefaultFollowReload = 5 * time.Second
	// persistIdle is how often the leader records its positions when no
	// event came (the cursor moves with every transaction of the database).
	persistIdle = 5 * time.Second
	// followPoll is how often a follower's read checks the leader's progress.
	followPoll = 50 * time.Millisecond
)

// cursorState is the leader's reading position (the worker's own).
type cursorState struct {
	next int64 // where the next read starts
	// last holds the keys the last read returned: a read returns again
	// what was written at or after its start, and only those are not new.
	last map[eventKey]struct{}
	// noMemberFrom is where the read that queued the oldest event without a
	// member not yet credited started (-1: none): resume stays below it.
	noMemberFrom int64
	// read is the last read (its events dropped); lastPoll and
	// lastPersist pace the reads and the records; persisted is the Next of
	// the last read recorded as posted.
	read                  store.PostingRead
	lastPoll, lastPersist time.Time
	persisted             int64
	// unrecorded: reads since the last record returned new events (the
	// position may not have moved: a transaction elsewhere in the
	// database cluster holds the snapshots' xmin back).
	unrecorded bool
}

// fenced returns ctx with the leader's epoch (Cursor): the ledger's writes
// then fail with store.ErrNotLeader once another replica has taken the
// lead, so that a leader that lost its lock without noticing yet cannot
// overwrite what its successor computed.
func (s *Service) fenced(ctx context.Context) context.Context {
	if !s.cfg.Cursor {
		return ctx
	}
	return store.WithLeaderEpoch(ctx, s.epoch)
}

// startCursor reads the leader's recorded position (Run's start).
func (s *Service) startCursor(ctx context.Context) error {
	posted, resume, err := s.cs.Posted(ctx)
	if err != nil {
		return err
	}
	s.cur = cursorState{next: resume, noMemberFrom: -1, persisted: posted, read: store.PostingRead{Next: resume}}
	s.log.Info("crediting: leading: posting the stored events from the last recorded position", "resume", resume, "posted", posted)
	return nil
}

// poll reads the events stored since the last read, by any replica, and
// queues the new ones for the ledger.
func (s *Service) poll(ctx context.Context) (int, error) {
	from := s.cur.next
	r, err := s.cs.EventsFrom(ctx, from)
	if err != nil {
		return 0, err
	}
	evs := r.Events
	s.cur.lastPoll = time.Now()
	seen := make(map[eventKey]struct{}, len(evs))
	fresh := 0
	for _, e := range evs {
		k := eventKey{e.Door, e.Seq, e.ReceivedMs, e.TimeMs}
		seen[k] = struct{}{}
		if _, ok := s.cur.last[k]; ok {
			continue
		}
		if _, ok := s.recovered[k]; ok {
			// Credited at start from the receipt-time session.
			continue
		}
		if e.Member == "" && s.cur.noMemberFrom < 0 {
			s.cur.noMemberFrom = from
		}
		s.queueTracked(e)
		s.trackedMax = max(s.trackedMax, e.ReceivedMs)
		fresh++
	}
	r.Events = nil
	s.cur.last, s.cur.next, s.cur.read = seen, r.Next, r
	s.pending.Add(float64(fresh))
	return fresh, nil
}

// persist records the leader's positions after an update, or when idle at
// most every persistIdle: the last read as posted once every queued event
// of a member is in the ledger, resume below the oldest event without a
// member not yet credited.
func (s *Service) persist(ctx context.Context, fresh bool) error {
	s.cur.unrecorded = s.cur.unrecorded || fresh
	if len(s.toCredit) > 0 || s.cur.read.Snapshot == "" {
		return nil
	}
	if !s.cur.unrecorded && (s.cur.next == s.cur.persisted || time.Since(s.cur.lastPersist) < persistIdle) {
		return nil
	}
	if len(s.noMember) == 0 {
		s.cur.noMemberFrom = -1
	}
	resume := s.cur.next
	if s.cur.noMemberFrom >= 0 {
		resume = s.cur.noMemberFrom
	}
	if err := s.cs.SetPosted(ctx, s.cur.read, resume); err != nil {
		return err
	}
	s.cur.persisted, s.cur.lastPersist, s.cur.unrecorded = s.cur.next, time.Now(), false
	return nil
}

// replica returns a follower's directory, read again when older than
// Config.FollowReload or when a local change came since, with the stored
// settings. Reads of a follower may run concurrently: the loads may too.
func (s *Service) replica(ctx context.Context, fromMs int64) (*directory, error) {
	s.repMu.Lock()
	defer s.repMu.Unlock()
	d := s.rep
	if d != nil && d.fromMs <= fromMs && time.Since(s.repAt) < s.cfg.FollowReload && !s.repStale {
		return d, nil
	}
	if err := s.loadSettings(ctx); err != nil {
		return nil, err
	}
	first, err := s.firstOpen(ctx)
	if err != nil {
		return nil, err
	}
	from := first.Start(s.cfg.Rules.Location).Add(-margin).UnixMilli()
	if d != nil {
		from = min(from, d.fromMs)
	}
	d, err = loadDirectory(ctx, s.st, time.UnixMilli(min(from, fromMs)), time.Time{}, nil)
	if err != nil {
		return nil, err
	}
	s.rep, s.repAt, s.repStale = d, time.Now(), false
	return d, nil
}

// followSync waits until the leader has posted every event of a member
// committed before the call, at most Config.FollowWait; then the read
// shows the ledger as it stands (a leader being replaced, logged).
func (s *Service) followSync(ctx context.Context) error {
	h, err := s.cs.PostingHorizon(ctx)
	if err != nil {
		return s.syncFailed(err)
	}
	deadline := time.Now().Add(s.cfg.FollowWait)
	for {
		pending, err := s.cs.Unposted(ctx, h)
		if err != nil {
			return s.syncFailed(err)
		}
		if !pending {
			return nil
		}
		if time.Now().After(deadline) {
			s.errs.With("follow").Inc()
			s.log.Warn("crediting: the leader has not posted the events stored before this read; it shows the ledger as it stands",
				"waited", s.cfg.FollowWait)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(followPoll):
		}
	}
}

func (s *Service) syncFailed(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s.errs.With("follow").Inc()
	s.log.Warn("crediting: could not check the leader's progress; the read shows the ledger as it stands", "err", err)
	return nil
}

// following reports whether reads are a follower's: Config.Cursor and Run
// not running (or not started yet: a replica taking over answers as a
// follower until it has started).
func (s *Service) following() bool { return s.cfg.Cursor && s.directory() == nil }

// closeAsFollower closes what r asks for on a follower (see above).
func (s *Service) closeAsFollower(ctx context.Context, r request) (result, error) {
	if err := s.followSync(ctx); err != nil {
		return result{}, err
	}
	loc := s.cfg.Rules.Location
	first := r.close
	if r.through {
		ps, err := s.ledger.ToClose(ctx, r.close)
		if err != nil {
			return result{err: err}, nil
		}
		first = ps[0]
	}
	d, err := s.replica(ctx, first.Start(loc).Add(-margin).UnixMilli())
	if err != nil {
		return result{}, err
	}
	actx := audit.WithActor(ctx, r.actor)
	if r.through {
		sts, err := s.ledger.CloseThrough(actx, d.dir, r.close, s.cfg.Now())
		for _, st := range sts {
			s.closes.Inc()
			s.log.Info("crediting: period closed by a follower", "period", st.Period.String(), "total_cents", st.TotalCents, "through", r.close.String())
		}
		return result{all: sts, err: err}, nil
	}
	st, err := s.ledger.Close(actx, d.dir, r.close, s.cfg.Now())
	if err != nil {
		return result{err: err}, nil
	}
	s.closes.Inc()
	s.log.Info("crediting: period closed by a follower", "period", r.close.String(), "total_cents", st.TotalCents)
	return result{s: st}, nil
}

// Reload has the leader reload its directory and rebuild the open periods
// (a change too large to be announced to it, see the server's change
// notes); a follower reads its directory again.
func (s *Service) Reload(ctx context.Context) {
	s.Changed(ctx, domain.Change{Kind: domain.KindSettings})
}

// committedCursor is Committed with Config.Cursor: the leader's worker is
// woken (the commit's events are read from the store); a follower ignores
// it (the leader reads them).
func (s *Service) committedCursor(receivedMs int64, batches []ingest.Batch) {
	if !s.running.Load() || len(batches) == 0 {
		return
	}
	now := time.Now()
	s.mu.Lock()
	if len(s.commits) == 0 {
		s.firstCommit = now
	}
	s.commits = append(s.commits, commit{receivedMs: receivedMs})
	s.lastCommit = now
	s.mu.Unlock()
	s.poke()
}

// rebuildOpenOnce rebuilds the open periods at start (rebuildOpen), but
// only when another build rebuilt them last (or the build is unknown): a
// restart of the same build, or a handover between replicas of one build,
// credits at once, and the time it takes does not grow with the open
// periods' events (a whole month of 10,000 doors' events).
func (s *Service) rebuildOpenOnce(ctx context.Context) error {
	last, err := s.cs.RebuiltBy(ctx)
	if err != nil {
		return err
	}
	build := s.cfg.Build
	if build == "" {
		build = buildID()
	}
	if build != "" && last == build {
		s.log.Info("crediting: open periods already rebuilt by this build", "build", build)
		return nil
	}
	if err := s.rebuildOpen(ctx); err != nil {
		return err
	}
	return s.cs.SetRebuiltBy(ctx, build)
}

// buildID names this binary: its VCS revision when it was built from a
// clean tree, else the SHA-256 of its executable file (builds made with
// -buildvcs=false, as GOFLAGS sets on some machines, carry no revision),
// else "" (unknown: every start rebuilds).
func buildID() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, kv := range info.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.modified":
				modified = kv.Value
			}
		}
		if rev != "" && modified == "false" {
			return "rev:" + rev
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "exe:" + hex.EncodeToString(h.Sum(nil)[:16])
}
