// Package signing holds the keys that sign chave's access tokens and mints
// the tokens (RFC 9068 JWTs).
//
// A KeySet lives in memory and is persisted as a private JWK Set (RFC 7517)
// in a file written atomically with mode 0600. Each key carries its kid,
// alg and, as extra members, its lifecycle: "created", "activates" (when
// it starts signing; absent in older files, meaning created) and "retired"
// (when it stops signing; absent until a rotation replaces it).
//
// Keys rotate without invalidating live tokens (Rotate, RotateFile,
// RunSchedule): a new key is published at once but signs only from its
// activation, a pre-publication delay later, so that verifiers caching the
// JWKS know it before they meet it; the key it replaces retires at that
// instant and stays published until every token it signed has expired
// (its retirement plus the retention), and is then pruned. Exactly one key
// signs at any time, chosen by the clock at each Sign without any reload;
// every key in the set is published. Running servers pick up a rotation
// written by another process with Reload or Watch. HS512 keys are never
// published, only used in process.
//
// Private key material never leaves this package: keys print and log as
// their kid, alg and lifecycle times only.
package signing
