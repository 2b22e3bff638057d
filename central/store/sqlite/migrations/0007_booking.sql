-- Booking site (issue 15): places and booking rules.
--
-- A center's desk pool: capacity desks that members book without naming
-- one (a booking without a room is a desk); desks optionally names them
-- (JSON list of {id, name}; then capacity is their number). A center
-- without a pool row takes desk bookings without a capacity check, as
-- before this migration.
CREATE TABLE desk_pools (
	center_id TEXT PRIMARY KEY REFERENCES centers(id) ON DELETE CASCADE,
	capacity  INTEGER NOT NULL CHECK (capacity >= 0),
	desks     TEXT NOT NULL DEFAULT '[]'
);

-- Meeting rooms gain a capacity (people; 0: not stated) and equipment
-- (JSON list of strings).
ALTER TABLE rooms ADD COLUMN capacity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rooms ADD COLUMN equipment TEXT NOT NULL DEFAULT '[]';

-- Booking rules per center; scope '' holds the network defaults. rules is
-- the JSON of domain.BookingRules. No foreign key (scope '' is no center);
-- deleting a center deletes its rules in the same transaction.
CREATE TABLE booking_rules (
	scope      TEXT PRIMARY KEY,
	rules      TEXT NOT NULL,
	updated_ms INTEGER NOT NULL
);

-- Desk occupancy of a center in a time range (the capacity check and the
-- availability queries read only this covering index).
CREATE INDEX bookings_desks ON bookings(center_id, start_ms, end_ms, room_id) -- room_id: SQLite then reads the index alone
	WHERE room_id IS NULL AND status = 'confirmed';
CREATE INDEX bookings_rooms_live ON bookings(center_id, start_ms, end_ms, room_id)
	WHERE room_id IS NOT NULL AND status = 'confirmed';
-- The longest confirmed booking bounds how far back a range query starts.
CREATE INDEX bookings_length ON bookings((end_ms - start_ms)) WHERE status = 'confirmed';
