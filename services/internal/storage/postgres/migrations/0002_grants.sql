-- Refresh-token families (only their use counters: refresh tokens
-- themselves are never stored) and access tokens revoked before expiry.

CREATE TABLE refresh_families (
    id            TEXT COLLATE "C" PRIMARY KEY,
    client_id     TEXT COLLATE "C" NOT NULL,
    generation    BIGINT NOT NULL,
    create_time   BIGINT,
    expire_time   BIGINT,
    revoke_time   BIGINT,
    revoke_reason TEXT NOT NULL
);

CREATE INDEX refresh_families_expiry ON refresh_families (expire_time);

CREATE TABLE revoked_access_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY,
    client_id   TEXT COLLATE "C" NOT NULL,
    expire_time BIGINT,
    revoke_time BIGINT
);

CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expire_time);
