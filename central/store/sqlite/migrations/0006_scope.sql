-- Scopes (issue 14): the ids of deleted centers stay retired, so that no
-- later center inherits what named the old one (its API tokens, events and
-- hours); and each badge remembers the API token that added it, so that a
-- technician sees and revokes the badges they enrolled.

CREATE TABLE deleted_centers (
	id         TEXT PRIMARY KEY,
	deleted_ms INTEGER NOT NULL
);

ALTER TABLE badges ADD COLUMN added_by TEXT NOT NULL DEFAULT ''; -- '' before this migration, or made by the central itself
CREATE INDEX badges_added_by ON badges(added_by, uid);
