-- Staff accounts (issue 16): e-mail + password (argon2id PHC string) +
-- TOTP. Secrets: password_hash, totp_secret, recovery_hashes (SHA-256 of
-- each unused recovery code, comma-separated). Times are Unix milliseconds.

CREATE TABLE staff_accounts (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL UNIQUE,   -- lower case
	name            TEXT NOT NULL,
	role            TEXT NOT NULL,          -- admin, manager, technician
	centers         TEXT NOT NULL DEFAULT '',
	status          TEXT NOT NULL,          -- invited, active, disabled
	password_hash   TEXT NOT NULL DEFAULT '',
	totp_secret     TEXT NOT NULL DEFAULT '',
	totp_confirmed  INTEGER NOT NULL DEFAULT 0,
	totp_last_step  BIGINT NOT NULL DEFAULT 0,  -- replay guard
	recovery_hashes TEXT NOT NULL DEFAULT '',
	created_ms      BIGINT NOT NULL,
	updated_ms      BIGINT NOT NULL
);

-- One-time links and steps: invitation, password reset, the step between
-- password and second factor. Only the SHA-256 of the secret is kept.
CREATE TABLE staff_account_tokens (
	hash       TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES staff_accounts(id) ON DELETE CASCADE,
	purpose    TEXT NOT NULL,
	created_ms BIGINT NOT NULL,
	expires_ms BIGINT NOT NULL,
	used_ms    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX staff_account_tokens_account ON staff_account_tokens(account_id);
CREATE INDEX staff_account_tokens_expires ON staff_account_tokens(expires_ms);

-- Failed sign-ins by key (account:ID, ip:ADDR): the rate limit, shared by
-- every replica on the database.
CREATE TABLE sign_in_failures (
	key   TEXT NOT NULL,
	at_ms BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_key ON sign_in_failures(key, at_ms);
CREATE INDEX sign_in_failures_at ON sign_in_failures(at_ms);
