package server

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/smartworkcenters/swc/central/enroll"
	"github.com/smartworkcenters/swc/central/store"
)

// followDoorCerts keeps this replica's CRL up to date with the changes
// other replicas make to the store's record of door certificates (an
// enrollment, a renewal, a door removed through them): it LISTENs on
// store.DoorCertsChannel, on which a trigger of the store announces every
// committed change, and refreshes the CRL on each notice, and once each
// time it (re)connects, for the notices it may have missed. It returns
// when ctx ends; a lost connection is dialled again.
func (s *Server) followDoorCerts(ctx context.Context, rev *enroll.Revocations) {
	for ctx.Err() == nil {
		if err := s.listenDoorCerts(ctx, rev); err != nil && ctx.Err() == nil {
			s.log.Warn("crl: listening for other replicas' revocations failed; trying again (the periodic refresh goes on)", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(leaderRetry/2 + rand.N(leaderRetry)):
		}
	}
}

func (s *Server) listenDoorCerts(ctx context.Context, rev *enroll.Revocations) error {
	conn, err := pgx.Connect(ctx, s.cfg.DBURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+store.DoorCertsChannel); err != nil {
		return err
	}
	for {
		_, _ = rev.Refresh(ctx) // logged and counted by Refresh
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
