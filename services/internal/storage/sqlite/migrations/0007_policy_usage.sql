-- Company policy (issue 11): a tenant's rules for its tokens, as JSON
-- ({"maxTokenLifetimeSeconds": n, "grantableContexts": [...],
-- "allowedClientCidrs": [...]}); '{}' sets no rule.
ALTER TABLE tenants ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';

-- Grants per credential and UTC day (day: its midnight in unix
-- microseconds), added to by the registry's flush of its in-memory
-- counters and pruned after 90 days.
CREATE TABLE token_usage (
    token_id  TEXT NOT NULL,
    day       BIGINT NOT NULL,
    succeeded BIGINT NOT NULL DEFAULT 0,
    failed    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, day)
);
-- Pruning by day.
CREATE INDEX token_usage_day ON token_usage (day);
