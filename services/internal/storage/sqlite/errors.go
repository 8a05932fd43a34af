package sqlite

import (
	"database/sql"
	"errors"

	"github.com/chave/chave/services/internal/storage/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// isUniqueViolation reports whether err is a primary-key or unique
// constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// notFound maps sql.ErrNoRows to a chave NotFound error naming the resource,
// and returns any other error unchanged.
func notFound(err error, kind, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.NotFound(kind, id)
	}
	return err
}

// conflict maps a unique violation to a chave Conflict error that keeps the
// driver error as its cause, and returns any other error unchanged.
func conflict(err error, kind, id string) error {
	if isUniqueViolation(err) {
		return sqlstore.Conflict(kind, id, err)
	}
	return err
}
