// Package attack holds chave's attack suite: its tests start a real
// `chave serve` on SQLite, with the in-process revocation set and with a
// real redis-server, and try end to end what an attacker would: hostile
// JWTs on every verifier, cross-tenant calls over REST and gRPC, header
// and body tricks, refresh-token reuse and races, and Redis losing its
// data. Each case is a row of a table that says what it sends and what it
// expects, so that an auditor can read the suite as a list of claims.
// SECURITY.md states the guarantees the rows keep.
package attack
