-- Billing (issue 19): issued documents and their numbering. A counter row
-- per (issuer, year) holds the last number given; the transaction that
-- inserts documents increments it, so numbers are gapless (a failed issue
-- rolls its numbers back) and concurrent issues of one issuer wait on the
-- row. A document is never updated nor deleted: model is the JSON of the
-- document, ubl its Peppol XML (NULL for a buyer without a Peppol
-- address), digest the SHA-256 of both. (period, subject, purpose) is
-- unique: a period's invoice of a member, its corrections and the
-- self-billed invoice of a center are issued once.
CREATE TABLE billing_counters (
	issuer TEXT NOT NULL,
	year   INTEGER NOT NULL,
	last   BIGINT NOT NULL,
	PRIMARY KEY (issuer, year)
);

CREATE TABLE billing_documents (
	issuer        TEXT NOT NULL,
	number        TEXT NOT NULL,
	year          INTEGER NOT NULL,
	seq           BIGINT NOT NULL,
	type          TEXT NOT NULL,
	period        TEXT NOT NULL,
	subject       TEXT NOT NULL,
	purpose       TEXT NOT NULL,
	member_id     TEXT NOT NULL DEFAULT '',
	center_id     TEXT NOT NULL DEFAULT '',
	corrects      TEXT NOT NULL DEFAULT '',
	issued_ms     BIGINT NOT NULL,
	payable_cents BIGINT NOT NULL,
	currency      TEXT NOT NULL,
	model         BYTEA NOT NULL,
	ubl           BYTEA,
	digest        TEXT NOT NULL,
	PRIMARY KEY (issuer, number),
	UNIQUE (issuer, year, seq),
	UNIQUE (period, subject, purpose)
);
CREATE INDEX billing_documents_member ON billing_documents(member_id, period);
CREATE INDEX billing_documents_period ON billing_documents(period, issuer);
