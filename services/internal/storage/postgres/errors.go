package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

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
		return sqlstore.NotFound(kind, id)
	}
	return err
}

// conflict maps a unique violation to a chave Conflict error that keeps the
// driver error as its cause, and returns any other error unchanged.
func conflict(err error, kind, id string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return sqlstore.Conflict(kind, id, err)
	}
	return err
}

// lostConnection reports whether err is the connection to PostgreSQL
// failing rather than a statement: a refused or timed-out dial, a
// connection cut mid-query (pgx reports "unexpected EOF"), a reset.
// A cancelled caller is not one: its request is over anyway.
func lostConnection(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var connect *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connect) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
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
