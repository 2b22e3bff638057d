package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/smartworkcenters/swc/central/domain"
	"github.com/smartworkcenters/swc/central/whitelist"
)

// In scale-out mode (PostgreSQL) several replicas share the store. Doors'
// events go to any of them, but whitelists need one authority for versions:
// exactly one replica, the one holding a PostgreSQL advisory lock, compiles
// and publishes them. Every replica announces its committed domain changes
// with NOTIFY on changesChannel; the leader LISTENs and applies them. It
// loads the whole network again when it takes the role, when its connection
// drops (the lock goes with it and another replica may take over), and every
// reloadEvery, which also recovers a change whose NOTIFY was lost to a crash
// between the commit and the notification.
const (
	leaderLockKey  = 0x53574357 // "SWCW"
	changesChannel = "swc_changes"
	reloadEvery    = 10 * time.Minute
	leaderRetry    = 2 * time.Second
	// maxNotify is below PostgreSQL's 8000-byte NOTIFY payload limit; a
	// larger change is announced as "reload".
	maxNotify = 7900
)

// changeNote is the NOTIFY payload: a change, or a request to reload.
type changeNote struct {
	Reload bool           `json:"reload,omitempty"`
	Change *domain.Change `json:"change,omitempty"`
}

// startLeaderElection announces this replica's changes to the others and
// runs for the whitelist leadership until the returned stop is called.
func (s *Server) startLeaderElection(ctx context.Context) (stop func(), err error) {
	pool, err := pgxpool.New(ctx, s.cfg.DBURL)
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	s.Changes.SubscribeAll(func(ctx context.Context, ch domain.Change) {
		note, err := json.Marshal(changeNote{Change: &ch})
		if err != nil || len(note) > maxNotify {
			note, _ = json.Marshal(changeNote{Reload: true})
		}
		if _, err := pool.Exec(ctx, "SELECT pg_notify($1, $2)", changesChannel, string(note)); err != nil {
			s.log.Error("whitelist: announcing a change to the leader failed; the leader's periodic reload picks it up", "kind", ch.Kind, "err", err)
		}
	}, func(ctx context.Context, chs []domain.Change) {
		// A bulk import: one reload of the leader instead of a note per
		// object.
		note, _ := json.Marshal(changeNote{Reload: true})
		if _, err := pool.Exec(ctx, "SELECT pg_notify($1, $2)", changesChannel, string(note)); err != nil {
			s.log.Error("whitelist: announcing an import to the leader failed; the leader's periodic reload picks it up", "changes", len(chs), "err", err)
		}
	})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := s.lead(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("whitelist leader: lost or could not take the role; trying again", "err", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(leaderRetry/2 + rand.N(leaderRetry)):
			}
		}
	}()
	return func() {
		cancel()
		<-done
		pool.Close()
	}, nil
}

// lead waits for the leadership, then holds it until ctx ends or the
// connection that holds the lock fails.
func (s *Server) lead(ctx context.Context) error {
	conn, err := s.waitForLock(ctx, leaderLockKey)
	if conn == nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return err
	}
	s.log.Info("whitelist leader: this replica now compiles and publishes the whitelists")
	defer func() {
		s.Ingest.SetWhitelist(nil)
		s.compiler.Store(nil)
		s.log.Info("whitelist leader: role given up")
	}()
	load := func() (*whitelist.Compiler, error) {
		c, err := s.newCompiler(ctx)
		if err != nil {
			return nil, err
		}
		s.compiler.Store(c)
		s.Ingest.SetWhitelist(c)
		return c, nil
	}
	c, err := load()
	if err != nil {
		return err
	}

	// The listener owns the connection until it returns; the connection is
	// closed (deferred above) only after that.
	lctx, lcancel := context.WithCancel(ctx)
	notes := make(chan *changeNote, 64)
	listenErr := make(chan error, 1)
	listenDone := make(chan struct{})
	defer func() { lcancel(); <-listenDone }()
	go func() {
		defer close(listenDone)
		for {
			n, err := conn.WaitForNotification(lctx)
			if err != nil {
				listenErr <- err
				close(notes)
				return
			}
			var note changeNote
			if err := json.Unmarshal([]byte(n.Payload), &note); err != nil || (!note.Reload && note.Change == nil) {
				note = changeNote{Reload: true}
			}
			select {
			case notes <- &note:
			case <-lctx.Done():
			}
		}
	}()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	for {
		select {
		case note, ok := <-notes:
			if !ok {
				err := <-listenErr
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("listening for changes: %w", err)
			}
			if note.Reload {
				if c, err = load(); err != nil {
					return err
				}
				continue
			}
			if err := c.Apply(ctx, *note.Change); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("whitelist: applying a change failed; it is retried with the next change or tick", "kind", note.Change.Kind, "err", err)
			}
		case now := <-tick.C:
			if err := c.Tick(ctx, now); err != nil && ctx.Err() == nil {
				s.log.Error("whitelist: tick failed; retried at the next tick", "err", err)
			}
		case <-reload.C:
			if c, err = load(); err != nil {
				return err
			}
		}
	}
}
