package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/chave/chave/services/internal/chave"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs given a chave code.
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

// SQLSTATEs of the aborts PostgreSQL uses to resolve conflicts between
// transactions: running the transaction again is the documented remedy.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// isUniqueViolation reports whether err is a unique violation.
func isUniqueViolation(err error) bool {
	return sqlState(err) == uniqueViolation
}

// retryable reports whether err is a serialization failure or a deadlock.
func retryable(err error) bool {
	code := sqlState(err)
	return code == serializationFailure || code == deadlockDetected
}

// sqlState returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// lostConnection reports whether err is the connection to PostgreSQL
// failing rather than a statement: a refused or timed-out dial, a
// connection cut mid-query (pgx reports "unexpected EOF"; database/sql
// driver.ErrBadConn or sql.ErrConnDone), a reset.
// A cancelled caller is not one: its request is over anyway.
func lostConnection(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connect) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// classify gives a driver error that a caller can act on a chave code,
// keeping the driver error as the cause: Unavailable when the database is
// unreachable, cut off, shutting down or out of connections, Invalid for text
// PostgreSQL cannot store (a NUL character, invalid UTF-8). Errors that
// already carry a code, and all others, come back unchanged.
func classify(err error) error {
	var ce *chave.Error
	if err == nil || errors.As(err, &ce) {
		return err
	}
	if lostConnection(err) {
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
