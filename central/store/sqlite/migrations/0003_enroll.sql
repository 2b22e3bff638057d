-- Door enrollment (issue 8): one-time enrollment tokens and the key each
-- door enrolled with. Times are Unix milliseconds.

CREATE TABLE enrollment_tokens (
	id         TEXT PRIMARY KEY,
	door       TEXT NOT NULL REFERENCES doors(id) ON DELETE CASCADE,
	hash       TEXT NOT NULL UNIQUE,   -- SHA-256 of the secret
	created_by TEXT NOT NULL,          -- id of the API token that made it
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL,
	used_ms    INTEGER                 -- NULL until redeemed
);
CREATE INDEX enrollment_tokens_door ON enrollment_tokens(door);

CREATE TABLE door_keys (
	door        TEXT PRIMARY KEY REFERENCES doors(id) ON DELETE CASCADE,
	key_sha256  TEXT NOT NULL,         -- SHA-256 of the SubjectPublicKeyInfo, hex
	enrolled_ms INTEGER NOT NULL
);
