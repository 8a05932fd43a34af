package postgres

import (
	"testing"

	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
	"github.com/chave/chave/services/internal/testserver"
)

// TestNewCreateTokensLikeCreateToken: the bench's bulk stream writes what
// CreateToken writes, all or nothing, and the store treats its rows as its
// own.
func TestNewCreateTokensLikeCreateToken(t *testing.T) {
	s := mustOpen(t, testserver.Postgres(t))
	t.Cleanup(func() { s.Close() })
	sqlstoretest.CreateTokensLikeCreateToken(t, s)
}
