package chave

import "time"

// Actions recorded in the audit trail.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionRevoke = "revoke"
	ActionRotate = "rotate"
	// ActionRevokeLeaked is a revocation by a leak report.
	ActionRevokeLeaked = "revoked: secret reported leaked"
	// ActionRehash is the re-hash of a secret under the server's active
	// hashing key, on the secret's first use after a key rotation.
	ActionRehash = "secret re-hashed under a new server key"
	// ActionRewrap is the re-sealing of secret parameters under the
	// server's active sealing key (chave keys rewrap).
	ActionRewrap = "parameters re-sealed under a new server key"
	// ActionPreviousSecretEnd records that the secret a rotation with a
	// grace period replaced stopped working.
	ActionPreviousSecretEnd = "previous secret ended"
)

// Keys of Event.Details.
const (
	DetailSource                   = "source"                   // a leak report's source
	DetailURL                      = "url"                      // where a leaked secret was found
	DetailPreviousSecretExpireTime = "previousSecretExpireTime" // a rotation's grace end, RFC 3339
)

// Event is one entry of a token's audit trail: who did what, when.
type Event struct {
	TokenID string
	Time    time.Time
	Actor   string   // the client id of the caller
	Action  string   // one of the Action constants
	Fields  []string // JSON names of the fields the event changed
	// Details says more about the event (the Detail keys): a leak
	// report's source and URL, a rotation's grace end. Nil when none.
	Details map[string]string
}
