-- Rotation with a grace period: the secret a rotation replaced keeps
-- authenticating until previous_secret_expire_time (unix microseconds),
-- never after; both NULL otherwise. Its hash is indexed too, so that a
-- leak report of it finds the credential. Its hash key version and
-- fingerprint are kept as for the current secret (0 and '': none).
ALTER TABLE tokens ADD COLUMN previous_secret_hash BLOB;
ALTER TABLE tokens ADD COLUMN previous_secret_expire_time BIGINT;
ALTER TABLE tokens ADD COLUMN previous_secret_hash_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN previous_secret_version TEXT NOT NULL DEFAULT '';
CREATE INDEX tokens_previous_secret_hash ON tokens (previous_secret_hash);
-- An event's details (a leak report's source and URL, a rotation's grace
-- end): a JSON object of strings.
ALTER TABLE token_events ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
