package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartworkcenters/swc/central/posting"
)

// In scale-out mode (PostgreSQL) exactly one replica, the one holding a
// second advisory lock, is the crediting leader: it runs the posting
// service, which posts every replica's stored events to the hours ledger
// (see package posting). It hears the other replicas' domain changes on
// changesChannel (every replica announces them, see leader.go). The lock
// goes with the leader's connection: when the leader dies, PostgreSQL
// releases it and a follower, trying every leaderRetry, takes over and
// resumes from the ledger's recorded position.
const postingLockKey = 0x53574350 // "SWCP"

// startPostingElection runs for the crediting leadership until the
// returned stop is called.
func (s *Server) startPostingElection(svc *posting.Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			if err := s.leadPosting(ctx, svc); err != nil && ctx.Err() == nil {
				s.log.Warn("crediting leader: lost or could not take the role; trying again", "err", err)
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
	}
}

// leadPosting waits for the crediting leadership, then runs the posting
// service until ctx ends or the connection that holds the lock fails.
func (s *Server) leadPosting(ctx context.Context, svc *posting.Service) error {
	conn, err := s.waitForLock(ctx, postingLockKey)
	if conn == nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+changesChannel); err != nil {
		return err
	}
	s.log.Info("crediting leader: this replica now posts the stored events to the hours ledger")
	s.leadingCredit.Set(1)
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		if err := svc.Run(runCtx); err != nil {
			s.log.Error("crediting stopped", "err", err)
		}
	}()
	defer func() {
		stopRun()
		<-ran
		s.leadingCredit.Set(0)
		s.log.Info("crediting leader: role given up")
	}()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("listening for changes: %w", err)
		}
		var note changeNote
		if err := json.Unmarshal([]byte(n.Payload), &note); err != nil || note.Reload || note.Change == nil {
			svc.Reload(ctx)
			continue
		}
		svc.Changed(ctx, *note.Change)
	}
}

// waitForLock connects to the database and waits until the connection
// holds the advisory lock key, trying every leaderRetry. It returns a nil
// connection when ctx ends first or on an error; the lock lasts as long as
// the connection.
func (s *Server) waitForLock(ctx context.Context, key int64) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.cfg.DBURL)
	if err != nil {
		return nil, err
	}
	for {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, err
		}
		if ok {
			return conn, nil
		}
		select {
		case <-ctx.Done():
			conn.Close(context.WithoutCancel(ctx))
			return nil, nil
		case <-time.After(leaderRetry):
		}
	}
}
