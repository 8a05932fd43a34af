package sqlstore

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Migration is one schema change, named by its file (without ".sql").
type Migration struct {
	Version string
	SQL     string
}

// migrate applies the flavour's pending migrations in one transaction of
// the write pool, recording each in schema_migrations; running it again
// applies nothing. On SQLite the write pool's transactions begin IMMEDIATE:
// holding the single write lock from the start, a migration runs alone. On
// PostgreSQL Flavor.LockMigrations takes an advisory lock first, so that of
// several replicas starting at once one applies them and the others then
// find nothing to do.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := LoadMigrations(s.flavor.Migrations)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if s.flavor.LockMigrations != "" {
		// Taken before anything else, even CREATE TABLE IF NOT EXISTS, which
		// is not safe against a concurrent identical statement.
		if _, err := tx.ExecContext(ctx, s.flavor.LockMigrations); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if err := applyMigrations(ms, s.flavor.CreateSchemaMigrations, execOn(ctx, tx), queryOn(ctx, tx)); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// LoadMigrations returns the files migrations/*.sql of fsys (a database's
// embedded schema) in the order of their names.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		version := strings.TrimSuffix(path.Base(name), ".sql")
		out = append(out, Migration{Version: version, SQL: string(data)})
	}
	return out, nil
}

// applyMigrations brings a schema up to date within the caller's transaction,
// through its exec and query: it creates the bookkeeping table
// schema_migrations with createTable (a CREATE TABLE IF NOT EXISTS of
// columns version and apply_time), then applies each of ms it does not
// record yet, in order, and records it. Running it again applies nothing.
// The caller begins and commits the transaction and holds whatever keeps
// concurrent migrations apart.
func applyMigrations(ms []Migration, createTable string, exec Exec, query Query) error {
	if err := exec(createTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(query)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		// Without arguments, exec runs every statement of the file (pgx then
		// uses the simple protocol).
		if err := exec(m.SQL); err != nil {
			return fmt.Errorf("apply %s: %w", m.Version, err)
		}
		if err := exec(`INSERT INTO schema_migrations (version, apply_time) VALUES ($1, $2)`,
			m.Version, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record %s: %w", m.Version, err)
		}
	}
	return nil
}

// appliedVersions returns the versions schema_migrations records.
func appliedVersions(query Query) (map[string]bool, error) {
	versions, err := queryAll(query, func(row Scanner) (string, error) {
		var v string
		err := row.Scan(&v)
		return v, err
	}, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	applied := make(map[string]bool, len(versions))
	for _, v := range versions {
		applied[v] = true
	}
	return applied, nil
}
