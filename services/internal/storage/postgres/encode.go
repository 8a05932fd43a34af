package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Column encodings, shared by every table (the same as SQLite's):
//   - times: unix microseconds UTC, NULL for the zero time;
//   - string lists: a JSON array, "[]" when empty; read back as nil;
//   - parameters: a JSON object, "{}" when empty; read back as nil;
//   - byte strings: BYTEA, NULL when empty; read back as nil.

func encodeTime(t time.Time) pgtype.Int8 {
	if t.IsZero() {
		return pgtype.Int8{}
	}
	return pgtype.Int8{Int64: t.UnixMicro(), Valid: true}
}

func decodeTime(n pgtype.Int8) time.Time {
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

// SQLSTATEs given a chave code (besides the conflict aborts in retry.go).
const (
	uniqueViolation          = "23505"
	characterNotInRepertoire = "22021" // a NUL character or invalid UTF-8 in text
	untranslatableCharacter  = "22P05"
	tooManyConnections       = "53300"
	adminShutdown            = "57P01"
	crashShutdown            = "57P02"
	cannotConnectNow         = "57P03"
	connectionExceptionClass = "08"
)

// notFound maps pgx.ErrNoRows to a chave NotFound error naming the
// resource, and returns any other error unchanged.
func notFound(err error, kind, id string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return chave.Errorf(chave.NotFound, "%s %q not found", kind, id)
	}
	return err
}

// conflict maps a unique violation to a chave Conflict error that keeps the
// driver error as its cause, and returns any other error unchanged.
func conflict(err error, kind, id string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return &chave.Error{
			Code:    chave.Conflict,
			Message: fmt.Sprintf("%s %q already exists", kind, id),
			Err:     err,
		}
	}
	return err
}

// classify gives a driver error that a caller can act on a chave code,
// keeping the driver error as the cause: Unavailable when the database is
// unreachable, shutting down or out of connections, Invalid for text
// PostgreSQL cannot store (a NUL character, invalid UTF-8). Errors that
// already carry a code, and all others, come back unchanged.
func classify(err error) error {
	var ce *chave.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return &chave.Error{Code: chave.Unavailable, Message: "the database is unreachable", Err: err}
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case pe.Code == characterNotInRepertoire || pe.Code == untranslatableCharacter:
		return &chave.Error{Code: chave.Invalid, Message: "a text value holds a NUL character or invalid UTF-8", Err: err}
	case pe.Code == tooManyConnections, pe.Code == adminShutdown, pe.Code == crashShutdown,
		pe.Code == cannotConnectNow, strings.HasPrefix(pe.Code, connectionExceptionClass):
		return &chave.Error{Code: chave.Unavailable, Message: "the database is unavailable", Err: err}
	}
	return err
}
