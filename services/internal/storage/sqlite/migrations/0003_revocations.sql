-- Rebuilding a revocation set (ListRevocations) reads the revoked
-- credentials and the revoked refresh families. Both are few among many
-- rows that were never revoked, so the indexes are partial: they hold only
-- the revoked rows. (revoked_access_tokens holds nothing but revocations,
-- and 0002's index on its expire_time serves that query.)

-- Credentials revoked at or after a given instant.
CREATE INDEX tokens_revoked ON tokens (revoke_time) WHERE revoke_time IS NOT NULL;

-- Revoked families whose expiry is still ahead.
CREATE INDEX refresh_families_revoked ON refresh_families (expire_time) WHERE revoke_time IS NOT NULL;
