package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Column encodings, shared by every table:
//   - times: unix microseconds UTC, NULL for the zero time;
//   - string lists: a JSON array, "[]" when empty; read back as nil;
//   - parameters: a JSON object, "{}" when empty; read back as nil;
//   - byte strings: a BLOB, NULL when empty; read back as nil.

func encodeTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func decodeTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

func encodeStrings(s []string) (string, error) {
	if len(s) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(s)
	return string(b), err
}

func decodeStrings(text string) ([]string, error) {
	var s []string
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}

func encodeParameters(p chave.Parameters) (string, error) {
	if len(p) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	return string(b), err
}

func decodeParameters(text string) (chave.Parameters, error) {
	var p chave.Parameters
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

func encodeBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

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
		return chave.Errorf(chave.NotFound, "%s %q not found", kind, id)
	}
	return err
}

// conflict maps a unique violation to a chave Conflict error that keeps the
// driver error as its cause, and returns any other error unchanged.
func conflict(err error, kind, id string) error {
	if isUniqueViolation(err) {
		return &chave.Error{
			Code:    chave.Conflict,
			Message: fmt.Sprintf("%s %q already exists", kind, id),
			Err:     err,
		}
	}
	return err
}
