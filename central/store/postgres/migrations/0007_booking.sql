-- Booking site (issue 15): places, booking rules and the room exclusion
-- constraint.
--
-- A center's desk pool: capacity desks that members book without naming
-- one (a booking without a room is a desk); desks optionally names them
-- (JSON list of {id, name}; then capacity is their number). A center
-- without a pool row takes desk bookings without a capacity check, as
-- before this migration. The pool row is also the lock that serializes
-- desk bookings of the center across replicas (SELECT ... FOR UPDATE).
CREATE TABLE desk_pools (
	center_id TEXT PRIMARY KEY REFERENCES centers(id) ON DELETE CASCADE,
	capacity  BIGINT NOT NULL CHECK (capacity >= 0),
	desks     TEXT NOT NULL DEFAULT '[]'
);

-- Meeting rooms gain a capacity (people; 0: not stated) and equipment
-- (JSON list of strings).
ALTER TABLE rooms ADD COLUMN capacity BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN equipment TEXT NOT NULL DEFAULT '[]';

-- Booking rules per center; scope '' holds the network defaults. rules is
-- the JSON of domain.BookingRules.
CREATE TABLE booking_rules (
	scope      TEXT PRIMARY KEY,
	rules      TEXT NOT NULL,
	updated_ms BIGINT NOT NULL
);

CREATE INDEX bookings_desks ON bookings(center_id, start_ms, end_ms, room_id) -- room_id: SQLite then reads the index alone
	WHERE room_id IS NULL AND status = 'confirmed';
CREATE INDEX bookings_rooms_live ON bookings(center_id, start_ms, end_ms, room_id)
	WHERE room_id IS NOT NULL AND status = 'confirmed';
CREATE INDEX bookings_length ON bookings((end_ms - start_ms)) WHERE status = 'confirmed';

-- No two confirmed bookings of one room overlap, whatever writes them: the
-- database refuses it (SQLSTATE 23P01) even if a writer skipped the check.
-- btree_gist gives GiST the equality on room_id. It is created in public
-- (extensions are per database; the migration lock serializes replicas and
-- schemas starting together), and the operator class is found whatever the
-- search_path.
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public;
ALTER TABLE bookings ADD CONSTRAINT bookings_room_no_overlap EXCLUDE USING gist (
	room_id WITH =,
	tstzrange(to_timestamp(start_ms / 1000.0), to_timestamp(end_ms / 1000.0), '[)') WITH &&
) WHERE (room_id IS NOT NULL AND status = 'confirmed');
