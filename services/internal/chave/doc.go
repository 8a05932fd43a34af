// Package chave holds the domain of the credential registry: tenants, the
// context catalog, tokens (credentials), their audit events and the rules
// that keep them valid. It imports only the standard library; storage,
// transports and cryptography live in packages that depend on it.
package chave
