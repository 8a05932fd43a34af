-- Listing by state without scanning a tenant (ListTokens).
--
-- state is an index key, never read back as the token's state: 0 live, 1
-- expired (marked once a list for ACTIVE or EXPIRED saw its expire_time
-- pass), 2 revoked (exact: every write of a token sets 0 or 2 from
-- revoke_time). A list walks one state's rows in the keyset order and
-- checks expire_time against its own "now" all the same, so a mark that
-- lags or leads never changes an answer; it only lets each page stop after
-- the rows it returns.
ALTER TABLE tokens ADD COLUMN state SMALLINT NOT NULL DEFAULT 0;
UPDATE tokens SET state = 2 WHERE revoke_time IS NOT NULL;
-- What has expired by now, so that the first list need not mark it all.
UPDATE tokens SET state = 1 WHERE revoke_time IS NULL AND expire_time <= (extract(epoch FROM now()) * 1000000)::BIGINT;

-- A state's rows newest first, within a tenant and across every tenant:
-- partial indexes, each row in one of each pair, so that the keyset order
-- leads. With (state, create_time, …) instead, PostgreSQL would rather walk
-- 0001's tokens_order and filter, for its create_time's correlation with
-- the insertion order.
CREATE INDEX tokens_tenant_live_order ON tokens (tenant, create_time DESC, id DESC) WHERE state = 0;
CREATE INDEX tokens_tenant_expired_order ON tokens (tenant, create_time DESC, id DESC) WHERE state = 1;
CREATE INDEX tokens_tenant_revoked_order ON tokens (tenant, create_time DESC, id DESC) WHERE state = 2;
CREATE INDEX tokens_live_order ON tokens (create_time DESC, id DESC) WHERE state = 0;
CREATE INDEX tokens_expired_order ON tokens (create_time DESC, id DESC) WHERE state = 1;
CREATE INDEX tokens_revoked_order ON tokens (create_time DESC, id DESC) WHERE state = 2;

-- Rows whose mark is behind (live rows past their expiry) or ahead (marked
-- rows whose expiry is after a list's "now"): a range each, empty as a rule.
CREATE INDEX tokens_tenant_state_expiry ON tokens (tenant, state, expire_time);
CREATE INDEX tokens_state_expiry ON tokens (state, expire_time);
