-- Check-in by badge (issue 15): the first granted tap of a booking's
-- member at its center within [start - grace, end) checks the booking in.
-- One row per booking; a tap that happened earlier replaces the row (events
-- arrive late and twice). A room booking without a row N minutes after its
-- start is released (bookings.status = 'released'). Times are Unix ms.
CREATE TABLE booking_checkins (
	booking_id TEXT PRIMARY KEY REFERENCES bookings(id) ON DELETE CASCADE,
	at_ms      BIGINT NOT NULL, -- the tap's time (the door's clock)
	door_id    TEXT NOT NULL,
	seq        BIGINT NOT NULL, -- the tap's event seq at the door
	stored_ms  BIGINT NOT NULL  -- when the central recorded it
);

-- The release loop's scan: confirmed room bookings by start.
CREATE INDEX bookings_room_start ON bookings(status, start_ms) WHERE room_id IS NOT NULL;
