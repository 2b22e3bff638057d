-- The approval of a closed period's settlement by an administrator (issue
-- 16's settlement workflow): who approved it, when, and the total and
-- currency approved. One row per period, never changed: a period is
-- approved once; later adjustments of it are booked in open periods and
-- approved with them. Only a closed period (credit_closed) is approved;
-- the store checks it in the approving transaction.
CREATE TABLE settlement_approvals (
	period           TEXT PRIMARY KEY REFERENCES credit_closed(period),
	approved_by      TEXT NOT NULL,
	approved_by_name TEXT NOT NULL DEFAULT '',
	approved_ms      BIGINT NOT NULL,
	total_cents      BIGINT NOT NULL,
	currency         TEXT NOT NULL DEFAULT ''
);
