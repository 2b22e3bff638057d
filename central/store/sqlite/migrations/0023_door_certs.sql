-- Door certificates the central issued (issue 20): the record the door CA's
-- revocation list (crl.pem, for an external Mosquitto's crlfile) is
-- computed from, shared by every replica. A certificate is revoked once:
-- when its door enrolls again with another key (superseded), when its door
-- is removed (door_removed), or explicitly (revoked); a revocation is never
-- undone and rows are never deleted, so the count of revoked rows only
-- grows (it numbers the CRL). door has no foreign key: the certificates of
-- a removed door must outlive it. Times are Unix milliseconds.
CREATE TABLE door_certs (
	serial        TEXT PRIMARY KEY,  -- lower-case hex, no leading zeros
	door          TEXT NOT NULL,
	key_sha256    TEXT NOT NULL,     -- SHA-256 of the SubjectPublicKeyInfo, hex
	not_before_ms INTEGER NOT NULL,
	not_after_ms  INTEGER NOT NULL,
	issued_ms     INTEGER NOT NULL,  -- when the central recorded it
	revoked_ms    INTEGER,           -- NULL while valid
	reason        TEXT NOT NULL DEFAULT '' CHECK (reason IN ('', 'superseded', 'door_removed', 'revoked')),
	CHECK ((revoked_ms IS NULL) = (reason = ''))
);
CREATE INDEX door_certs_door ON door_certs(door, key_sha256);
