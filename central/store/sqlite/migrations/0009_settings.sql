-- The network settings (package central/settings), versioned: each row is
-- one version, applying from the period effective_from (YYYY-MM) until a
-- later one takes over; for one period, the latest stored version whose
-- effective_from is not after it applies. Rows are never changed or
-- deleted: a closed period keeps the version it was computed with, and
-- SaveSettings refuses a version starting in a closed period.
-- settings is the settings.Settings as JSON; created_by the API token id
-- (or "serve" when seeded from flags at first start).
CREATE TABLE settings_versions (
	version        BIGINT PRIMARY KEY,
	effective_from TEXT NOT NULL,
	settings       TEXT NOT NULL,
	created_ms     BIGINT NOT NULL,
	created_by     TEXT NOT NULL DEFAULT '',
	note           TEXT NOT NULL DEFAULT ''
);
