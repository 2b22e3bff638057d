-- Secure credentials (issue 17): a badge's card type (uid_only, the legacy
-- badge whose UID alone opens; ntag424dna and desfire_ev2, which
-- authenticate at the door) and the card master key version its keys come
-- from (0 for uid_only); a center's require_secure_credentials policy; an
-- event's NTAG 424 DNA read counter (0: none), which the door reports with
-- a secure tap and its suspected_clone alarm.
ALTER TABLE badges ADD COLUMN card_type TEXT NOT NULL DEFAULT 'uid_only';
ALTER TABLE badges ADD COLUMN key_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE centers ADD COLUMN require_secure_credentials INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN read_ctr INTEGER NOT NULL DEFAULT 0;
