-- Versions for the registry's credential cache: every change to a token
-- or a tenant (UpdateToken, UpdateTenant) writes the version it read plus
-- one, so that a cached copy can tell it is stale by comparing versions
-- (the revocation set carries the version after each change). Existing
-- rows start at 1.
ALTER TABLE tokens ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tenants ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
