-- The audit log (issue 16): who changed what, when, with the object before
-- and after (JSON, secrets redacted). Rows are written by the store in the
-- transaction of the change; they are never updated nor deleted by the
-- central. audit_centers lists the centers a row concerns ('' for the
-- network), so that a center's staff read exactly their center's rows.

CREATE TABLE audit_log (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at_ms         BIGINT NOT NULL,
	actor_kind    TEXT NOT NULL,
	actor_id      TEXT NOT NULL,
	actor_name    TEXT NOT NULL DEFAULT '',
	actor_role    TEXT NOT NULL DEFAULT '',
	actor_centers TEXT NOT NULL DEFAULT '', -- comma-separated
	actor_ip      TEXT NOT NULL DEFAULT '',
	actor_agent   TEXT NOT NULL DEFAULT '',
	action        TEXT NOT NULL,
	object_kind   TEXT NOT NULL,
	object_id     TEXT NOT NULL,
	centers       TEXT NOT NULL DEFAULT '', -- comma-separated copy of audit_centers, for reading
	before_json   TEXT,                     -- NULL before a creation
	after_json    TEXT                      -- NULL after a deletion
);
CREATE INDEX audit_log_time ON audit_log(at_ms, id);
CREATE INDEX audit_log_object ON audit_log(object_kind, object_id, id);
CREATE INDEX audit_log_actor ON audit_log(actor_kind, actor_id, id);

CREATE TABLE audit_centers (
	audit_id  BIGINT NOT NULL,
	center_id TEXT NOT NULL,
	at_ms     BIGINT NOT NULL,
	-- one B-tree serves a center's rows by time and the probe of one row
	-- (center, at_ms, id): see sqlstore.ListAudit
	PRIMARY KEY (center_id, at_ms, audit_id)
);
