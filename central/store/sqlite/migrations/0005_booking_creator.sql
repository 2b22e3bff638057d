-- Who created each booking (issue 14, item 8), set by the central from the
-- API caller's token, never from the request: created_by_role is
-- cooperative, member or center_staff ('' for bookings created before this
-- migration: not recorded); created_by_center names the center of a
-- center's staff; created_by_token is the API token used. The creator
-- never changes after creation. No foreign keys: it is a historical record
-- that outlives the center or token.
ALTER TABLE bookings ADD COLUMN created_by_role TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN created_by_center TEXT;
ALTER TABLE bookings ADD COLUMN created_by_token TEXT;
