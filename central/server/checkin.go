package server

import (
	"context"
	"time"

	"github.com/smartworkcenters/swc/central/booking"
	"github.com/smartworkcenters/swc/central/settings"
)

// startBooking makes the booking service that the API and the site share,
// checks bookings in from the ingest's commits (subscribed before the
// ingest starts) and runs the release of room no-shows. Every replica runs
// both: check-ins are idempotent and a release is one conditional UPDATE,
// so a booking is released, and its member e-mailed, once. The follower
// queues at most booking.DefaultQueueTaps taps and catches up from the
// stored events beyond. At Shutdown (after the ingest stopped) it drains
// its queue for booking.DefaultDrainTimeout at most, so that a restart
// does not wait for it; a check-in left over, or lost by a crash, is
// applied by the next follower to take its cursor over (booking.Follower).
func (s *Server) startBooking() {
	opts := booking.Options{Logger: s.log, Metrics: s.Metrics, GraceAt: func(ctx context.Context, at time.Time) time.Duration {
		v, err := settings.Current(ctx, s.Store, at)
		if err != nil {
			s.log.Warn("booking: check-in grace from the settings", "err", err)
			return -1 // the default
		}
		return time.Duration(v.Settings.GraceMinutes) * time.Minute
	}}
	if s.Mail != nil {
		opts.Mailer = s.Mail
	}
	s.Booking = booking.New(s.Store, opts)
	f := booking.NewFollower(s.Booking, booking.FollowerOptions{})
	s.Committed.Subscribe(f.Committed)
	// The follower's cursor before the ingest's first commit (Run saves
	// it again when this fails).
	octx, ocancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := f.Open(octx); err != nil {
		s.log.Warn("booking: check-in cursor not saved at start", "err", err)
	}
	ocancel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		_ = f.Run(ctx)
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		_ = s.Booking.RunReleases(ctx, s.cfg.ReleaseEvery)
	}()
	s.onStopBeside("booking check-ins and releases", func(context.Context) error {
		cancel()
		<-done
		<-done
		return nil
	})
}
