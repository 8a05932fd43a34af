// Package sqlstore holds what the SQL storage backends (SQLite on
// database/sql, PostgreSQL on pgx) share: the schema's column lists and
// statements, the encoding of values into columns and back, the queries
// that page, list and gather rows, and migration bookkeeping. Each backend
// keeps its connections, transactions, locking, driver-error mapping and
// schema files.
//
// The SQL is written once for both databases: $N placeholders, row-value
// comparisons, BIGINT unix-microsecond times, JSON text.
//
// Nothing here touches a driver. Statements reach the database through a
// Query or an Exec a backend makes from its connection, pool or
// transaction, and rows come back through Scanner and Rows, which
// *sql.Row, *sql.Rows, pgx.Row and pgx.Rows all satisfy.
package sqlstore

// Scanner is one row: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Rows is the result of a query, read front to back: *sql.Rows or
// pgx.Rows. Both close themselves once Next returns false, after which Err
// reports what ended the reading.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// Query runs the statement stmt with args and hands its rows to read,
// closing them once read returns; it returns the error of either. A
// backend makes one from a connection pool or a transaction.
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
