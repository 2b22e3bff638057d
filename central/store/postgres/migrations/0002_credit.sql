-- Hours crediting (issue 7): the credit.Ledger's state, and the indexes of
-- events by member that its reads need.

-- Events by member and receipt time. A tap's door time is never more than
-- an hour after its receipt unless the door's clock ran ahead (the
-- crediting's MaxClockAhead is at most an hour), so events whose door time
-- lies in a range are found from an hour before it on this index; the rare
-- ones further ahead are in a partial index of their own, which costs the
-- other events nothing. What the index costs the ingest is measured by
-- BenchmarkAppendBatchesMembers.
CREATE INDEX events_member_received ON events(member, received_ms);
CREATE INDEX events_member_ahead ON events(member, time_ms) WHERE time_ms > received_ms + 3600000;

-- One row. last_closed is the last closed period ('' before the first
-- close); Save and Close lock it. tracked_ms is the receipt time before which
-- every event has been credited; tracking is 1 while a crediting session
-- runs (1 at creation: the first start credits what is stored).
CREATE TABLE credit_state (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	last_closed TEXT NOT NULL,
	tracked_ms  BIGINT NOT NULL,
	tracking    INTEGER NOT NULL
);
INSERT INTO credit_state (id, last_closed, tracked_ms, tracking) VALUES (1, '', 0, 1);

-- A member's result in a period (visits and counts, JSON); frozen once the
-- period is closed. member_id '' holds the counts of events without a
-- member. Periods are 'YYYY-MM'.
CREATE TABLE credit_results (
	period    TEXT NOT NULL,
	member_id TEXT NOT NULL,
	result    TEXT NOT NULL,
	PRIMARY KEY (period, member_id)
);

-- Adjustment lines: corrections of a closed period (belongs_to) booked in
-- an open one (booked_in), one row per line; a (member, belongs_to,
-- booked_in) set is replaced whole.
CREATE TABLE credit_adjustments (
	member_id      TEXT NOT NULL,
	belongs_to     TEXT NOT NULL,
	booked_in      TEXT NOT NULL,
	line           INTEGER NOT NULL,
	center_id      TEXT NOT NULL,
	class          TEXT NOT NULL,
	home_center_id TEXT NOT NULL,
	minutes        BIGINT NOT NULL,
	rate_cents     BIGINT NOT NULL,
	PRIMARY KEY (member_id, belongs_to, booked_in, line)
);
CREATE INDEX credit_adjustments_booked ON credit_adjustments(booked_in, member_id);

-- The frozen settlement of every closed period (JSON).
CREATE TABLE credit_closed (
	period     TEXT PRIMARY KEY,
	settlement TEXT NOT NULL,
	closed_ms  BIGINT NOT NULL
);
