package sqlstore

import (
	"strings"
	"testing"
)

// TestDerivedStatements: the writes derived from a column list name every
// column once, in order, with its own placeholder, and the state of a
// token write follows its revoke time wherever that column stands.
func TestDerivedStatements(t *testing.T) {
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, c := range []struct{ name, got, want string }{
		{"insert tenant", insertTenantSQL,
			`INSERT INTO tenants (id, display_name, contexts, create_time, update_time, policy, version) VALUES ($1, $2, $3, $4, $5, $6, $7)`},
		{"update tenant", updateTenantSQL,
			`UPDATE tenants SET display_name = $2, contexts = $3, create_time = $4, update_time = $5, policy = $6, version = $7 WHERE id = $1 RETURNING ` + tenantColumns},
		{"state of a token write", StateOfWrite, `CASE WHEN CAST($13 AS BIGINT) IS NULL THEN 0 ELSE 2 END`},
		{"update token", updateTokenSQL, `UPDATE tokens SET tenant = $2, display_name = $3, description = $4,` +
			` general_access = $5, contexts = $6, parameters = $7, secret_hash = $8, operator = $9,` +
			` issue_refresh_tokens = $10, create_time = $11, expire_time = $12, revoke_time = $13,` +
			` last_use_time = $14, creator = $15, revoker = $16,` +
			` previous_secret_hash = $17, previous_secret_expire_time = $18,` +
			` previous_secret_hash_version = $19, previous_secret_version = $20,` +
			` secret_hash_version = $21, secret_version = $22, version = $23, state = ` + StateOfWrite +
			` WHERE id = $1 RETURNING ` + TokenColumns},
		{"revoke access token", revokeAccessTokenSQL, `INSERT INTO revoked_access_tokens (id, client_id, expire_time, revoke_time)` +
			` VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`},
	} {
		if got, want := squash(c.got), squash(c.want); got != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
	if n, want := strings.Count(InsertTokenSQL, "$"), len(columnNames(TokenColumns))+1; n != want {
		t.Errorf("InsertTokenSQL has %d placeholders, want one per column and the revoke time again (%d)", n, want)
	}
	defer func() {
		if recover() == nil {
			t.Error("placeholderOf an absent column did not panic")
		}
	}()
	placeholderOf(TokenColumns, "no_such_column")
}
