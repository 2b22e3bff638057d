package server

import (
	"context"
	"os"
	"time"

	"github.com/smartworkcenters/swc/central/whitelist"
)

// cardKeysPollEvery is how often serve looks at the card master keys' file
// for a rotation made by `swc-central card-keys rotate`.
const cardKeysPollEvery = 2 * time.Second

// watchCardKeys reads the card master keys again when their file changes
// (a rotation by the card-keys command, or a copy of the file that a
// replica's operator made from the replica where it was rotated), until
// ctx ends: the personalisation endpoint serves the new current version at
// once, and the whitelist compiler, when this replica runs it, gives every
// door listing a secure badge both versions' door keys. A file that does
// not load is logged and counted; the keys held are kept.
func (s *Server) watchCardKeys(ctx context.Context) {
	path := s.CardKeys.Path()
	failures := s.Metrics.Counter("swc_card_keys_reload_failures_total", "Card master key files that changed but did not load (the keys held are kept).")
	reloads := s.Metrics.Counter("swc_card_keys_reloads_total", "Card master key rotations read by the running central.")
	last, _ := os.Stat(path)
	// The compiler that has the keys read last: a rotation read while this
	// replica was building its compiler (it became the whitelist leader)
	// reaches that compiler too.
	var done *whitelist.Compiler
	rotated := false
	tick := time.NewTicker(cardKeysPollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if fi, err := os.Stat(path); err == nil && (last == nil || !os.SameFile(fi, last) || !fi.ModTime().Equal(last.ModTime()) || fi.Size() != last.Size()) {
			last = fi
			changed, err := s.CardKeys.Reload()
			switch {
			case err != nil:
				failures.Inc()
				s.log.Error("card keys: the file changed but does not load; the keys held are kept", "path", path, "err", err)
			case changed:
				reloads.Inc()
				rotated, done = true, nil
				s.log.Info("card keys: rotation read", "current_version", s.CardKeys.Current(), "versions", len(s.CardKeys.Versions()))
			}
		}
		if c := s.Whitelist(); rotated && c != nil && c != done {
			if err := c.CardKeysChanged(ctx); err != nil {
				s.log.Error("whitelist: recompiling the secure badges after a card key rotation failed; retried with the next change or tick", "err", err)
			}
			done = c
		}
	}
}
