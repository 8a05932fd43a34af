-- Server keys with versions: the version of the hashing key that made
-- secret_hash (rows from before read as version 1), and the secret's
-- fingerprint, which stays when the secret is re-hashed under another
-- version ('' for rows never re-hashed: derived from secret_hash).
ALTER TABLE tokens ADD COLUMN secret_hash_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tokens ADD COLUMN secret_version TEXT NOT NULL DEFAULT '';
