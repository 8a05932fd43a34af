// Package signing holds the keys that sign chave's access tokens and mints
// the tokens (RFC 9068 JWTs).
//
// A KeySet lives in memory and is persisted as a private JWK Set (RFC 7517)
// in a file written atomically with mode 0600. Each key carries its kid,
// alg and creation time; the set may hold several keys so that keys can be
// rotated without invalidating live tokens: exactly one key (the newest that
// is not retired) signs, and every key in the file is published for
// verification until it is removed from the file.
//
// Private key material never leaves this package: keys print and log as
// their kid and alg only.
package signing
