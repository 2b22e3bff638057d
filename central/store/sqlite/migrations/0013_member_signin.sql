-- Members' sign-in (issue 15, package central/accounts): e-mail one-time
-- codes, rate-limit counters, passkey credentials and WebAuthn ceremonies
-- in progress. Codes and nonces are kept only as hashes. Times are Unix
-- milliseconds.

CREATE TABLE signin_codes (
	nonce_hash TEXT PRIMARY KEY,   -- hash of the browser's pending sign-in nonce
	email      TEXT NOT NULL,      -- lower-cased
	member_id  TEXT NOT NULL DEFAULT '', -- '' when no member has the address
	code_hash  TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX signin_codes_expires ON signin_codes(expires_ms);

CREATE TABLE rate_hits (
	key       TEXT NOT NULL,       -- the limit and its subject
	window_ms INTEGER NOT NULL,         -- start of the fixed window
	ends_ms   INTEGER NOT NULL,
	n         INTEGER NOT NULL,
	PRIMARY KEY (key, window_ms)
);
CREATE INDEX rate_hits_ends ON rate_hits(ends_ms);

CREATE TABLE passkeys (
	id            TEXT PRIMARY KEY, -- credential id, base64url
	member_id     TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
	name          TEXT NOT NULL DEFAULT '',
	transports    TEXT NOT NULL DEFAULT '',
	sign_count    INTEGER NOT NULL DEFAULT 0,
	clone_warning INTEGER NOT NULL DEFAULT 0,
	created_ms    INTEGER NOT NULL,
	last_used_ms  INTEGER NOT NULL DEFAULT 0,
	data          TEXT NOT NULL     -- the credential as the WebAuthn library keeps it (JSON)
);
CREATE INDEX passkeys_member ON passkeys(member_id, created_ms);

CREATE TABLE webauthn_ceremonies (
	id_hash    TEXT PRIMARY KEY,
	data       TEXT NOT NULL,
	expires_ms INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expires ON webauthn_ceremonies(expires_ms);
