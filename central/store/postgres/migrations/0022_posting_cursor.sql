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
-- Transactions ids grow: each insert appends at the index's right edge.
CREATE INDEX events_xid ON events(xid);

-- posted_xid: every event of a member whose transaction is below it is in
-- the ledger (a replica's read waits for it); resume_xid: every event
-- below it is credited, members' and doors' (a new leader reads from it).
ALTER TABLE credit_state ADD COLUMN posted_xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE credit_state ADD COLUMN resume_xid BIGINT NOT NULL DEFAULT 0;
