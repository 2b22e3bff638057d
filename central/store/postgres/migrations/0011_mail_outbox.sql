-- E-mail outbox (issues 15 and 16): every mail the central sends is queued
-- here first, in the caller's flow, so that it survives a restart and an
-- SMTP outage; a sender loop delivers it. idem_key keeps the same notice
-- from being queued twice. Replicas claim rows with a lease. message is
-- the whole RFC 5322 message (with its Message-ID), emptied once the mail
-- is delivered or given up (it may hold a sign-in code). Times are Unix
-- milliseconds.

CREATE TABLE mail_outbox (
	id             TEXT PRIMARY KEY,
	idem_key       TEXT NOT NULL UNIQUE,
	recipient      TEXT NOT NULL,
	subject        TEXT NOT NULL,
	message        BYTEA NOT NULL,
	status         TEXT NOT NULL,      -- queued, sent, failed
	attempts       INTEGER NOT NULL DEFAULT 0,
	last_error     TEXT NOT NULL DEFAULT '',
	created_ms     BIGINT NOT NULL,
	next_ms        BIGINT NOT NULL,   -- earliest next attempt
	done_ms        BIGINT,             -- when sent or given up
	lease_owner    TEXT NOT NULL DEFAULT '',
	lease_until_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX mail_outbox_due ON mail_outbox(status, next_ms);
