-- Web sessions (issues 15 and 16): dashboard, staff console and booking
-- site. Only the SHA-256 of the session id (the cookie) is kept. Times are
-- Unix milliseconds.

CREATE TABLE web_sessions (
	id_hash      TEXT PRIMARY KEY,
	subject_kind TEXT NOT NULL,     -- api_token, staff_account, member
	subject_id   TEXT NOT NULL,
	csrf         TEXT NOT NULL,
	lang         TEXT NOT NULL DEFAULT '',
	flash        TEXT NOT NULL DEFAULT '',
	created_ms   INTEGER NOT NULL,
	last_seen_ms INTEGER NOT NULL,
	idle_ms      INTEGER NOT NULL,  -- ends idle_ms after last_seen_ms
	expires_ms   INTEGER NOT NULL   -- ends then however busy
);
CREATE INDEX web_sessions_subject ON web_sessions(subject_kind, subject_id);
CREATE INDEX web_sessions_expires ON web_sessions(expires_ms);
