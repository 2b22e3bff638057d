-- Billing (issue 19): hour packs, room prices' and customers' VAT
-- exemptions.
--
-- A price's VAT exemption (a VATEX code of billing.VATExemptions, '' for
-- none) makes its lines exempt (category E).
ALTER TABLE billing_prices ADD COLUMN vat_exemption TEXT NOT NULL DEFAULT '';

-- An hour pack a member holds: hours bought at cents from the issuer (the
-- cooperative, 'swc', for a nomadic member; the home center for a local
-- member), usable from valid_from to valid_until (months, YYYY-MM,
-- included). Packs are only added, never in or before an invoiced period.
CREATE TABLE billing_packs (
	id          TEXT PRIMARY KEY,
	member_id   TEXT NOT NULL,
	issuer      TEXT NOT NULL,
	hours       BIGINT NOT NULL,
	cents       BIGINT NOT NULL,
	vat_rate    BIGINT NOT NULL DEFAULT 0,
	valid_from  TEXT NOT NULL,
	valid_until TEXT NOT NULL,
	created_ms  BIGINT NOT NULL,
	created_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX billing_packs_member ON billing_packs(member_id);

-- The minutes a period's invoice (number) took from a pack, written in
-- the transaction that issues the invoice: a period takes from a pack
-- once.
CREATE TABLE billing_pack_uses (
	pack_id TEXT NOT NULL REFERENCES billing_packs(id),
	period  TEXT NOT NULL,
	minutes BIGINT NOT NULL,
	number  TEXT NOT NULL,
	PRIMARY KEY (pack_id, period)
);
