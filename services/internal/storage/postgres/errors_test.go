package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chave/chave/services/internal/chave"
)

// TestClassifyLostConnection: a connection that fails under a statement
// (PostgreSQL stopped, a proxy or the network cutting it) is Unavailable,
// which the edges answer 503, never an Internal 500; statement errors and
// a cancelled caller keep their meaning.
func TestClassifyLostConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want chave.Code
	}{
		{"unexpected EOF mid-query", fmt.Errorf("get token: %w", io.ErrUnexpectedEOF), chave.Unavailable},
		{"EOF", fmt.Errorf("read: %w", io.EOF), chave.Unavailable},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, chave.Unavailable},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, chave.Unavailable},
		{"admin shutdown", &pgconn.PgError{Code: adminShutdown}, chave.Unavailable},
		{"database/sql gave up on a bad connection", fmt.Errorf("begin: %w", driver.ErrBadConn), chave.Unavailable},
		{"transaction's connection gone", fmt.Errorf("commit: %w", sql.ErrConnDone), chave.Unavailable},
		{"NUL in text", &pgconn.PgError{Code: characterNotInRepertoire}, chave.Invalid},
	} {
		var ce *chave.Error
		if got := classify(tc.err); !errors.As(got, &ce) || ce.Code != tc.want {
			t.Errorf("%s: classify(%v) = %v, want code %v", tc.name, tc.err, got, tc.want)
		}
	}
	for _, err := range []error{
		&pgconn.PgError{Code: "42P01"}, // undefined table: a bug, not an outage
		context.Canceled,
		fmt.Errorf("query: %w", context.Canceled),
	} {
		var ce *chave.Error
		if got := classify(err); errors.As(got, &ce) {
			t.Errorf("classify(%v) = %v, want it unchanged", err, got)
		}
	}
}
