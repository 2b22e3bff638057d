-- Door event streams (issue 14): an event is identified by (door, store,
-- seq), where store is the identity of the door database that numbered it
-- ('' for doors from before store identities). Each stream has its own
-- high-water mark, and a slot: its events are kept in the events table as
-- (door, slot * 2^32 + seq), so that (door, seq) stays unique per door and
-- everything that reads events by (door, seq) is unchanged. The store ''
-- is slot 0: the events already stored keep their numbers.
CREATE TABLE event_streams (
	door        TEXT NOT NULL,
	store       TEXT NOT NULL,
	slot        BIGINT NOT NULL,
	through_seq BIGINT NOT NULL,
	max_seq     BIGINT NOT NULL,
	PRIMARY KEY (door, store),
	UNIQUE (door, slot)
);
INSERT INTO event_streams (door, store, slot, through_seq, max_seq)
	SELECT door, '', 0, through_seq, max_seq FROM event_seqs;
DROP TABLE event_seqs;
-- The door's totals over its streams, for the readers of the former table.
-- Each stream counts for at most 2^32-1 (protocol.MaxSeq): a number stored
-- before that bound (a forged 2^63-1) cannot make the sum overflow.
CREATE VIEW event_seqs AS
	SELECT door,
		CAST(SUM(LEAST(through_seq, 4294967295)) AS BIGINT) AS through_seq,
		CAST(SUM(LEAST(max_seq, 4294967295)) AS BIGINT) AS max_seq
	FROM event_streams GROUP BY door;
