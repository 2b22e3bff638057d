-- Door health and alerts (issue 16): the last known state of every door,
-- alerts raised and resolved from it, webhook endpoints with their delivery
-- log, and remote commands with their delivery and execution. Times are
-- Unix milliseconds; 0 means unknown.

CREATE TABLE door_health (
	door              TEXT PRIMARY KEY REFERENCES doors(id) ON DELETE CASCADE,
	state             TEXT NOT NULL,       -- online | offline | '' (never reported)
	status_time_ms    BIGINT NOT NULL,     -- the door's clock in its last status
	boot              TEXT NOT NULL,
	firmware          TEXT NOT NULL,
	wl_version        BIGINT NOT NULL,
	wl_issued_ms      BIGINT NOT NULL,
	outbox_depth      BIGINT NOT NULL,
	outbox_oldest_ms  BIGINT NOT NULL,
	clock_trusted     INTEGER NOT NULL,    -- 0 or 1
	door_state        TEXT NOT NULL,       -- locked, unlocked, open, held_open, forced
	reader            TEXT NOT NULL,       -- ok, fault
	last_seen_ms      BIGINT NOT NULL,     -- when a status or batch last came from the door
	offline_since_ms  BIGINT NOT NULL,     -- when the door went offline (0 while online)
	cert_not_after_ms BIGINT NOT NULL,     -- expiry of the door's last certificate
	updated_ms        BIGINT NOT NULL
);

CREATE TABLE alerts (
	id          TEXT PRIMARY KEY,          -- time-ordered
	door        TEXT NOT NULL,
	center      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	details     TEXT NOT NULL,             -- JSON object
	raised_ms   BIGINT NOT NULL,
	resolved_ms BIGINT                     -- NULL while open
);
-- At most one open alert per door and kind, whichever replica raises it.
CREATE UNIQUE INDEX alerts_open ON alerts(door, kind) WHERE resolved_ms IS NULL;
CREATE INDEX alerts_center ON alerts(center, id);

CREATE TABLE webhooks (
	id         TEXT PRIMARY KEY,
	center     TEXT NOT NULL,              -- '' for network-wide
	url        TEXT NOT NULL,
	secret     TEXT NOT NULL,              -- the HMAC key; kept to sign
	kinds      TEXT NOT NULL,              -- comma-separated alert kinds; '' for all
	created_by TEXT NOT NULL,
	created_ms BIGINT NOT NULL
);
CREATE INDEX webhooks_center ON webhooks(center);

CREATE TABLE webhook_deliveries (
	id          TEXT PRIMARY KEY,          -- time-ordered
	webhook     TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
	alert       TEXT NOT NULL,
	event       TEXT NOT NULL,             -- raised | resolved
	attempt     INTEGER NOT NULL,
	http_status INTEGER NOT NULL,          -- 0 when no answer
	ok          INTEGER NOT NULL,          -- 0 or 1
	error       TEXT NOT NULL,
	at_ms       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries(webhook, id);

CREATE TABLE door_commands (
	id          TEXT PRIMARY KEY,
	door        TEXT NOT NULL,
	center      TEXT NOT NULL,
	action      TEXT NOT NULL,
	seconds     INTEGER NOT NULL,
	by_token    TEXT NOT NULL,
	issued_ms   BIGINT NOT NULL,
	expires_ms  BIGINT NOT NULL,
	delivery    TEXT NOT NULL,             -- sent | queued_until_online | failed
	error       TEXT NOT NULL,
	signed      TEXT NOT NULL,             -- the signed command, base64: sent again when the door is back
	executed_ms BIGINT                     -- NULL until the door reports it
);
CREATE INDEX door_commands_door ON door_commands(door, issued_ms);
