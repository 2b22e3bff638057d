-- Check-in followers' cursors: every running check-in follower (one per
-- central process) records how far it applied the ingest's commits, so
-- that a granted tap stored but not yet applied when the process stopped
-- or died still checks its booking in: another follower (or the next
-- start) applies the granted taps received since applied_ms and drops the
-- cursor. Times are Unix ms.
CREATE TABLE checkin_cursors (
	follower   TEXT PRIMARY KEY, -- a random id per follower run
	applied_ms INTEGER NOT NULL,  -- every event committed by its ingest before it is applied
	seen_ms    INTEGER NOT NULL,  -- when the follower last saved it
	stopped    INTEGER NOT NULL DEFAULT 0
);
