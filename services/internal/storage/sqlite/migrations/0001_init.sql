-- Initial schema. Times are unix microseconds UTC in BIGINT columns, NULL
-- for a zero time; lists and maps are JSON text; booleans are BOOLEAN.

CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    contexts     TEXT NOT NULL,   -- JSON array of context ids
    create_time  BIGINT,
    update_time  BIGINT
);

CREATE TABLE tokens (
    id                   TEXT PRIMARY KEY,
    tenant               TEXT NOT NULL,      -- '' for the operator credential
    display_name         TEXT NOT NULL,
    description          TEXT NOT NULL,
    general_access       BOOLEAN NOT NULL,
    contexts             TEXT NOT NULL,      -- JSON array
    parameters           TEXT NOT NULL,      -- JSON object: context -> name -> value
    secret_hash          BLOB,
    operator             BOOLEAN NOT NULL,
    issue_refresh_tokens BOOLEAN NOT NULL,
    create_time          BIGINT NOT NULL,
    expire_time          BIGINT,
    revoke_time          BIGINT,
    last_use_time        BIGINT,
    creator              TEXT NOT NULL,
    revoker              TEXT NOT NULL
);

-- Listing newest first, within a tenant and across every tenant.
CREATE INDEX tokens_tenant_order ON tokens (tenant, create_time DESC, id DESC);
CREATE INDEX tokens_order ON tokens (create_time DESC, id DESC);

CREATE TABLE token_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id TEXT NOT NULL REFERENCES tokens (id),
    time     BIGINT,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    fields   TEXT NOT NULL            -- JSON array of field names
);

CREATE INDEX token_events_token ON token_events (token_id, id);
