package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Scanner is one row: *sql.Row or *sql.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is the result of a query, read front to back: *sql.Rows, which
// closes itself once Next returns false, after which Err reports what ended
// the reading.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Query runs the statement stmt with args and hands its rows to read,
// closing them once read returns; it returns the error of either. queryOn
// makes one from a connection pool or a transaction.
type Query func(stmt string, args []any, read func(Rows) error) error

// Exec runs the statement stmt with args, discarding any result.
type Exec func(stmt string, args ...any) error

// queryAll runs stmt through q and scans every row with scan; no rows give
// a nil slice.
func queryAll[T any](q Query, scan func(Scanner) (T, error), stmt string, args ...any) ([]T, error) {
	var out []T
	err := q(stmt, args, func(rows Rows) error {
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryOn returns the Query that runs statements on q.
func queryOn(ctx context.Context, q querier) Query {
	return func(stmt string, args []any, read func(Rows) error) error {
		rows, err := q.QueryContext(ctx, stmt, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return read(rows)
	}
}

// execOn returns the Exec that runs statements on q.
func execOn(ctx context.Context, q querier) Exec {
	return func(stmt string, args ...any) error {
		_, err := q.ExecContext(ctx, stmt, args...)
		return err
	}
}

// columnNames splits a column list such as TokenColumns.
func columnNames(columns string) []string {
	names := strings.Split(columns, ",")
	for i, n := range names {
		names[i] = strings.TrimSpace(n)
	}
	return names
}

// placeholders returns "$1, $2, …", one for each of columns.
func placeholders(columns string) string {
	names := columnNames(columns)
	out := make([]string, len(names))
	for i := range names {
		out[i] = "$" + strconv.Itoa(i+1)
	}
	return strings.Join(out, ", ")
}

// assignments returns "b = $2, c = $3, …" for the columns a, b, c, …: an
// UPDATE's SET list of every column but the first (the id, $1).
func assignments(columns string) string {
	names := columnNames(columns)
	out := make([]string, 0, len(names)-1)
	for i, n := range names[1:] {
		out = append(out, n+" = $"+strconv.Itoa(i+2))
	}
	return strings.Join(out, ", ")
}

// placeholderOf returns the placeholder of column among columns; it panics
// (at package initialisation) if the column is not one of them.
func placeholderOf(columns, column string) string {
	for i, n := range columnNames(columns) {
		if n == column {
			return "$" + strconv.Itoa(i+1)
		}
	}
	panic("sqlstore: no column " + column + " in " + columns)
}
