-- Core domain, events, whitelist states and API tokens (issue 5).
-- Times are Unix milliseconds; booleans are 0 or 1.

CREATE TABLE centers (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	time_zone  TEXT NOT NULL,
	hours      TEXT NOT NULL,          -- JSON of domain.OpeningHours
	rate_cents INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rooms (
	id        TEXT PRIMARY KEY,
	center_id TEXT NOT NULL REFERENCES centers(id),
	name      TEXT NOT NULL
);
CREATE INDEX rooms_center ON rooms(center_id, id);

CREATE TABLE doors (
	id          TEXT PRIMARY KEY,
	center_id   TEXT NOT NULL REFERENCES centers(id),
	name        TEXT NOT NULL,
	room_id     TEXT REFERENCES rooms(id),
	is_exit     INTEGER NOT NULL DEFAULT 0,
	secret_hash TEXT                    -- SHA-256 of the broker secret
);
CREATE INDEX doors_center ON doors(center_id, id);
CREATE INDEX doors_room ON doors(room_id) WHERE room_id IS NOT NULL;

CREATE TABLE members (
	id             TEXT PRIMARY KEY,
	name           TEXT NOT NULL,
	email          TEXT NOT NULL DEFAULT '',
	home_center_id TEXT REFERENCES centers(id), -- NULL: nomadic (the cooperative)
	status         TEXT NOT NULL
);
CREATE INDEX members_home ON members(home_center_id, id);

CREATE TABLE badges (
	uid       TEXT PRIMARY KEY,
	member_id TEXT NOT NULL REFERENCES members(id),
	revoked   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX badges_member ON badges(member_id);

CREATE TABLE bookings (
	id        TEXT PRIMARY KEY,
	member_id TEXT NOT NULL REFERENCES members(id),
	center_id TEXT NOT NULL REFERENCES centers(id),
	room_id   TEXT REFERENCES rooms(id),
	start_ms  INTEGER NOT NULL,
	end_ms    INTEGER NOT NULL,
	status    TEXT NOT NULL,
	CHECK (end_ms > start_ms)
);
CREATE INDEX bookings_center ON bookings(center_id, start_ms);
CREATE INDEX bookings_member ON bookings(member_id, start_ms);
CREATE INDEX bookings_room ON bookings(room_id, start_ms) WHERE room_id IS NOT NULL;

CREATE TABLE passes (
	id             TEXT PRIMARY KEY,
	member_id      TEXT NOT NULL REFERENCES members(id),
	valid_from_ms  INTEGER NOT NULL,
	valid_until_ms INTEGER NOT NULL,
	all_centers    INTEGER NOT NULL    -- 1: covers every center
);
CREATE INDEX passes_member ON passes(member_id);

CREATE TABLE pass_centers (
	pass_id   TEXT NOT NULL REFERENCES passes(id) ON DELETE CASCADE,
	center_id TEXT NOT NULL REFERENCES centers(id),
	PRIMARY KEY (pass_id, center_id)
);
CREATE INDEX pass_centers_center ON pass_centers(center_id);

CREATE TABLE staff (
	member_id TEXT NOT NULL REFERENCES members(id),
	center_id TEXT NOT NULL DEFAULT '', -- '': the whole network
	PRIMARY KEY (member_id, center_id)
);
CREATE INDEX staff_center ON staff(center_id);

-- Door events, idempotent on (door, seq). center_id is the door's center
-- when the event was received ('' for a door the central does not know).
CREATE TABLE events (
	door        TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	center_id   TEXT NOT NULL,
	received_ms INTEGER NOT NULL,
	time_ms     INTEGER NOT NULL,
	trusted     INTEGER NOT NULL,
	boot        TEXT NOT NULL,
	uptime_ms   INTEGER NOT NULL,
	kind        TEXT NOT NULL,
	uid         TEXT NOT NULL,
	member      TEXT NOT NULL,
	reason      TEXT NOT NULL,
	wl_version  INTEGER NOT NULL,
	command     TEXT NOT NULL,
	PRIMARY KEY (door, seq)
) WITHOUT ROWID;
-- One secondary index only: each index costs the ingest about a third of
-- its throughput. Queries by member or by time alone filter within a center
-- and time range or scan.
CREATE INDEX events_center_time ON events(center_id, time_ms);

-- Per door: every seq in 1..through_seq is stored; max_seq is the highest.
CREATE TABLE event_seqs (
	door        TEXT PRIMARY KEY,
	through_seq INTEGER NOT NULL,
	max_seq     INTEGER NOT NULL
);

CREATE TABLE whitelist_states (
	door      TEXT PRIMARY KEY,
	version   INTEGER NOT NULL,
	hash      TEXT NOT NULL,
	issued_ms INTEGER NOT NULL
);

CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	role       TEXT NOT NULL,
	centers    TEXT NOT NULL DEFAULT '', -- comma-separated center ids
	hash       TEXT NOT NULL UNIQUE,     -- SHA-256 of the secret
	created_ms INTEGER NOT NULL
);
