-- The crediting leader's cursor over the stored events (issue 18). Several
-- replicas commit events concurrently; exactly one (the crediting leader)
-- posts them to the hours ledger. A sequence would not do as a cursor: a
-- transaction that took a lower id may commit after one with a higher id
-- was read. Instead each event records the transaction that inserted it
-- (64-bit, never wraps), and the leader reads, in one snapshot, every event
-- whose transaction is at or after its cursor, then moves the cursor to
-- the snapshot's xmin: every transaction below it has committed (and was
-- read) or aborted, so no event is skipped. Events stored before this
-- migration have no transaction (NULL): the crediting's receipt-time
-- session (credit_state.tracked_ms) covers them.
--
-- SET DEFAULT after ADD COLUMN does not rewrite the table.
ALTER TABLE events ADD COLUMN xid BIGINT;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint);
-- Transaction ids grow and events are never deleted, so the rows of a
-- range of heap pages hold a narrow range of xid: a BRIN index (a few
-- bytes per 128 pages, nearly free for the ingest, where a B-tree would
-- cost a share of its throughput) finds the recent events the leader reads.
CREATE INDEX events_xid ON events USING brin (xid);

-- posted_snapshot: every event of a member visible in that snapshot (the
-- leader's last read, as pg_snapshot text) is in the ledger, and
-- posted_xid is its xmin (a replica's read waits for the events committed
-- before it that the snapshot does not show); resume_xid: every event
-- below it is credited, members' and doors' (a new leader reads from it).
ALTER TABLE credit_state ADD COLUMN posted_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credit_state ADD COLUMN posted_snapshot TEXT NOT NULL DEFAULT '';
ALTER TABLE credit_state ADD COLUMN resume_xid BIGINT NOT NULL DEFAULT 0;

-- The build whose rules last rebuilt the open periods (posting rebuilds
-- them when a leader of another build starts; a handover between replicas
-- of one build does not): '' for none known.
ALTER TABLE credit_state ADD COLUMN rebuilt_by TEXT NOT NULL DEFAULT '';

-- The crediting leader's epoch, raised by each leader as it starts: the
-- ledger's writes of a leader check it in their transaction, so a leader
-- that lost its lock but has not noticed yet cannot overwrite what its
-- successor computed (a fencing token).
ALTER TABLE credit_state ADD COLUMN leader_epoch BIGINT NOT NULL DEFAULT 0;
