-- Initial schema, mirroring SQLite's. Times are unix microseconds UTC in
-- BIGINT columns, NULL for a zero time; lists and maps are JSON text;
-- byte strings are BYTEA, NULL when empty. Identifier columns collate "C"
-- so that ORDER BY sorts them bytewise, as Go compares strings.

CREATE TABLE tenants (
    id           TEXT COLLATE "C" PRIMARY KEY,
    display_name TEXT NOT NULL,
    contexts     TEXT NOT NULL,   -- JSON array of context ids
    create_time  BIGINT,
    update_time  BIGINT
);

CREATE TABLE tokens (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    tenant               TEXT COLLATE "C" NOT NULL,  -- '' for the operator credential
    display_name         TEXT NOT NULL,
    description          TEXT NOT NULL,
    general_access       BOOLEAN NOT NULL,
    contexts             TEXT NOT NULL,      -- JSON array
    parameters           TEXT NOT NULL,      -- JSON object: context -> name -> value
    secret_hash          BYTEA,
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
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_id TEXT COLLATE "C" NOT NULL REFERENCES tokens (id),
    time     BIGINT,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    fields   TEXT NOT NULL            -- JSON array of field names
);

CREATE INDEX token_events_token ON token_events (token_id, id);
