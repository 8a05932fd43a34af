-- Finding a credential by its secret's hash (GetTokenBySecretHash: a leak
-- report names a secret, not a token).
CREATE INDEX tokens_secret_hash ON tokens (secret_hash);
