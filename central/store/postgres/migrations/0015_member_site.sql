-- The booking site's own state (issue 15): each member's private
-- iCalendar feed (only the SHA-256 of its URL's token is kept; resetting
-- replaces it, so the old URL answers 404), and each booking's revision,
-- the SEQUENCE of its .ics invitations (0 when booked, one higher after
-- each change and the cancellation).

CREATE TABLE member_feeds (
	member_id  TEXT PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
	token_hash TEXT NOT NULL UNIQUE,
	created_ms BIGINT NOT NULL
);

CREATE TABLE booking_revisions (
	booking_id TEXT PRIMARY KEY REFERENCES bookings(id) ON DELETE CASCADE,
	revision   BIGINT NOT NULL
);
