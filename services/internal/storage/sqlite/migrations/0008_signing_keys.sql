-- The signing keys of access tokens, shared by every auth replica (they
-- lived in a file before). The private part of each is sealed by package
-- signing under the key-encryption key; the lifecycle is in plain columns
-- so that listing and scheduling need no key.
CREATE TABLE signing_keys (
	id            TEXT PRIMARY KEY,
	algorithm     TEXT NOT NULL,
	sealed        BLOB NOT NULL,
	create_time   BIGINT NOT NULL,
	activate_time BIGINT NOT NULL,
	retire_time   BIGINT,
	revoke_time   BIGINT
);

-- Revoked keys (emergency rotation) read by ListRevocations.
CREATE INDEX signing_keys_revoked ON signing_keys (revoke_time) WHERE revoke_time IS NOT NULL;

-- The version of the set: every change increments it, and each replica
-- polls it (one row, one read) to notice a change within seconds. Its one
-- row is also what an update locks.
CREATE TABLE signing_key_set (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL
);
INSERT INTO signing_key_set (id, version) VALUES (1, 0);

-- Leases: one holder at a time acts for the fleet under a name (the
-- scheduled signing-key rotation) until its expiry, renewing it as it
-- works; a crashed holder's lease lapses by itself.
CREATE TABLE leases (
	name        TEXT PRIMARY KEY,
	holder      TEXT NOT NULL,
	expire_time BIGINT NOT NULL
);
