package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
)

// TestNewCreateTokensLikeCreateToken: the bench's bulk insert writes what
// CreateToken writes, and the store treats its rows as its own.
func TestNewCreateTokensLikeCreateToken(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	t.Cleanup(func() { s.Close() })
	sqlstoretest.CreateTokensLikeCreateToken(t, s)
}

// TestNewCreateTokensStreamLikeCreateToken: the bench's bulk stream, which
// drops and rebuilds the secondary indexes on SQLite, writes what
// CreateToken writes, and the store treats its rows as its own.
func TestNewCreateTokensStreamLikeCreateToken(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	t.Cleanup(func() { s.Close() })
	sqlstoretest.CreateTokensStreamLikeCreateToken(t, s)
}
