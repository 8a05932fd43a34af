package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/chave/chave/services/internal/storage/sqlstore/sqlstoretest"
)

// TestNewCreateTokensLikeCreateToken: the bench's bulk stream writes what
// CreateToken writes, all or nothing, and the store treats its rows as its
// own (on SQLite the stream drops and rebuilds the secondary indexes).
func TestNewCreateTokensLikeCreateToken(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "chave.db"))
	t.Cleanup(func() { s.Close() })
	sqlstoretest.CreateTokensLikeCreateToken(t, s)
}
