// Package sqlite opens the SQLite flavour of the one SQL store
// (package sqlstore), on the pure-Go driver modernc.org/sqlite, and holds
// its migrations (migrations/*.sql).
//
// The store keeps two connection pools on the same file: a single-connection
// write pool whose transactions begin IMMEDIATE (so a read-modify-write
// transaction holds the write lock from its first read and never fails with
// SQLITE_BUSY on upgrade), and a read pool for queries, which in WAL mode
// run alongside the writer. The family advances of concurrent refresh
// grants share one transaction (sqlstore's group commit).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/chave/chave/services/internal/storage/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

const driverName = "sqlite"

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another connection (another process, or the read pool during a
// checkpoint) before failing.
const busyTimeoutMillis = 10000

//go:embed migrations/*.sql
var migrations embed.FS

// flavor is what SQLite does differently. IMMEDIATE transactions on the
// single write connection serialise every write, so nothing needs a row
// lock, and nothing is aborted to resolve a conflict; the refresh grants'
// advances, which would queue for that connection one commit each, are
// committed together (sqlstore's group commit).
var flavor = sqlstore.Flavor{
	Name:            "sqlite",
	GroupCommit:     true,
	SnapshotTx:      sql.TxOptions{ReadOnly: true},
	UniqueViolation: isUniqueViolation,
	Migrations:      migrations,
	// 256 MiB of pages (the default is 2 MiB): the indexes of a million
	// credentials stay in memory while the bench seeds them. Only the bulk
	// insert sets it; chave never calls that.
	BulkTx: `PRAGMA cache_size = -262144`,
	// The secondary indexes of the tokens and their events, their
	// definitions as the migrations wrote them (SQLite keeps the text):
	// the bulk insert builds each once from sorted keys after its rows.
	// The primary keys' indexes (sql NULL) stay: the ids ascend.
	BulkIndexes: `SELECT name, sql FROM sqlite_master
	WHERE type = 'index' AND tbl_name IN ('tokens', 'token_events') AND sql IS NOT NULL
	ORDER BY name`,
	CreateSchemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    TEXT PRIMARY KEY,
	apply_time BIGINT NOT NULL
)`,
}

// Open opens (creating if needed) the database at path and applies the
// pending migrations. The path ":memory:" gives a private in-memory
// database, served by a single connection.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: open %s: the path must not contain '?' or '#'", path)
	}
	if path != ":memory:" {
		if err := createPrivate(path); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	write, err := sql.Open(driverName, path+"?"+writeParams().Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	read := write
	if path != ":memory:" {
		read, err = sql.Open(driverName, path+"?"+readParams().Encode())
		if err != nil {
			write.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	}
	s, err := sqlstore.Open(ctx, flavor, write, read)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// createPrivate creates the database file, if it does not exist, readable
// by its owner only (0600), in a directory it creates 0700: it holds every
// credential's hash and the audit trail. SQLite gives the -wal and -shm
// files it adds the database file's mode.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

func writeParams() url.Values {
	return url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMillis)},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_foreign_keys": {"1"},
		"_txlock":       {"immediate"},
	}
}

func readParams() url.Values {
	return url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeoutMillis)},
		"_foreign_keys": {"1"},
		"_query_only":   {"1"},
	}
}
