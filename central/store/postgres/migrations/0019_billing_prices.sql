-- Billing (issue 19): prices with validity and the parties' billing
-- details. A price version applies from its month (valid_from, YYYY-MM)
-- until the next version of the same key; versions are only added, and
-- never in or before an invoiced period (the store checks it against
-- billing_documents), so an invoiced period keeps the prices it was billed
-- with. center_id and room_id are '' when the price has none (the key is
-- the primary key, so they are not NULL).
CREATE TABLE billing_prices (
	kind       TEXT NOT NULL,
	center_id  TEXT NOT NULL DEFAULT '',
	room_id    TEXT NOT NULL DEFAULT '',
	valid_from TEXT NOT NULL,
	cents      BIGINT NOT NULL,
	vat_rate   BIGINT NOT NULL DEFAULT 0,
	created_ms BIGINT NOT NULL,
	created_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (kind, center_id, room_id, valid_from)
);

-- One row per party (member, center, the cooperative): the JSON of
-- billing.Details, validated by the store before it is written.
CREATE TABLE billing_details (
	kind       TEXT NOT NULL,
	id         TEXT NOT NULL,
	details    TEXT NOT NULL,
	updated_ms BIGINT NOT NULL,
	PRIMARY KEY (kind, id)
);
