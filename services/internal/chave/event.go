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
)

// Event is one entry of a token's audit trail: who did what, when.
type Event struct {
	TokenID string
	Time    time.Time
	Actor   string   // the client id of the caller
	Action  string   // one of the Action constants
	Fields  []string // JSON names of the fields the event changed
}
