package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/chave/chave/services/internal/chave"
)

// NewToken is a token and its creation event, as CreateToken takes them.
type NewToken struct {
	Token chave.Token
	Event chave.Event
}

// insertPrepared writes tokens and their events through InsertTokenSQL
// and insertEventSQL, prepared once on tx. (Multi-row INSERTs are slower
// on SQLite: it looks each $N placeholder up in a list as it compiles,
// quadratic in the rows.)
func (s *Store) insertPrepared(ctx, run context.Context, tx *sql.Tx, tokens []NewToken) error {
	insertToken, err := tx.PrepareContext(ctx, InsertTokenSQL)
	if err != nil {
		return err
	}
	defer insertToken.Close()
	insertEv, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return err
	}
	defer insertEv.Close()
	for i, nt := range tokens {
		if i%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		t := nt.Token
		args, err := TokenArgs(t)
		if err != nil {
			return fmt.Errorf("token %s: %w", t.ID, err)
		}
		if _, err := insertToken.ExecContext(run, args...); err != nil {
			return s.conflict(err, "token", t.ID)
		}
		ev, err := eventArgs(t.ID, nt.Event)
		if err != nil {
			return fmt.Errorf("token %s: %w", t.ID, err)
		}
		if _, err := insertEv.ExecContext(run, ev...); err != nil {
			return fmt.Errorf("token %s: insert event: %w", t.ID, err)
		}
	}
	return nil
}

// insertMultiRow writes tokens and their events rows at a time, each
// INSERT of tokens followed by the one of their events.
func (s *Store) insertMultiRow(ctx, run context.Context, tx *sql.Tx, tokens []NewToken, rows int) error {
	full := [2]string{bulkInsertTokensSQL(min(rows, len(tokens))), bulkInsertEventsSQL(min(rows, len(tokens)))}
	var tokenArgs, evArgs []any
	for start := 0; start < len(tokens); start += rows {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := tokens[start:min(start+rows, len(tokens))]
		tokenArgs, evArgs = tokenArgs[:0], evArgs[:0]
		for _, nt := range chunk {
			a, err := TokenArgs(nt.Token)
			if err != nil {
				return fmt.Errorf("token %s: %w", nt.Token.ID, err)
			}
			tokenArgs = append(tokenArgs, a...)
			e, err := eventArgs(nt.Token.ID, nt.Event)
			if err != nil {
				return fmt.Errorf("token %s: %w", nt.Token.ID, err)
			}
			evArgs = append(evArgs, e...)
		}
		stmts := full
		if len(chunk) < min(rows, len(tokens)) {
			stmts = [2]string{bulkInsertTokensSQL(len(chunk)), bulkInsertEventsSQL(len(chunk))}
		}
		if _, err := tx.ExecContext(run, stmts[0], tokenArgs...); err != nil {
			return s.conflict(err, "token", chunk[0].Token.ID+" (or another of its batch)")
		}
		if _, err := tx.ExecContext(run, stmts[1], evArgs...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
	}
	return nil
}

// bulkInsertTokensSQL is InsertTokenSQL for n rows: each row's values are
// TokenArgs, its placeholders numbered on from the previous row's, and its
// state derived from its own revoke time as StateOfWrite does.
func bulkInsertTokensSQL(n int) string {
	cols := len(columnNames(TokenColumns))
	revoke := placeholderIndex(TokenColumns, "revoke_time")
	var b strings.Builder
	b.WriteString(`INSERT INTO tokens (` + TokenColumns + `, state) VALUES `)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for c := range cols {
			b.WriteString("$" + strconv.Itoa(r*cols+c+1) + ", ")
		}
		b.WriteString(`CASE WHEN CAST($` + strconv.Itoa(r*cols+revoke) + ` AS BIGINT) IS NULL THEN 0 ELSE 2 END)`)
	}
	return b.String()
}

// bulkInsertEventsSQL is insertEventSQL for n rows of eventArgs.
func bulkInsertEventsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO token_events (token_id, time, actor, action, fields, details) VALUES `)
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for c := range 6 {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(r*6+c+1))
		}
		b.WriteString(")")
	}
	return b.String()
}

// placeholderIndex is the 1-based position of column among columns; it
// panics if the column is not one of them (see placeholderOf).
func placeholderIndex(columns, column string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(placeholderOf(columns, column), "$"))
	if err != nil {
		panic(err)
	}
	return n
}

// CreateTokensStream inserts, in one transaction, every batch next
// returns until it returns nil: with their creation events, the rows
// CreateToken writes for each, in order, and with its statements: each
// prepared once on SQLite, or, where Flavor.BulkRows is above 1
// (PostgreSQL), that many rows an INSERT, to spare the round trips. Where the flavour lists its indexes (Flavor.BulkIndexes:
// SQLite) it drops the secondary indexes of tokens and token_events first
// and creates them again from their own definitions before the commit,
// so that each is built once from sorted keys rather than updated row by
// row. The one transaction makes it all or nothing: an error (of next, a
// row, or ctx), or a crash, leaves the database as it was, its indexes
// with it. Conflict if an id exists or repeats.
//
// It is not part of storage.Store: it is the bench's bulk seeding path
// (chave-load seed), never chave's, so that a registry of a million
// credentials takes a minute to build rather than the hours the API would.
// It holds the write lock for the whole load.
func (s *Store) CreateTokensStream(ctx context.Context, next func() ([]NewToken, error)) (int, error) {
	written, err := s.createTokensStream(ctx, next)
	if err != nil {
		return 0, s.fail(err, "create tokens (%d written before the error, none kept)", written)
	}
	return written, nil
}

func (s *Store) createTokensStream(ctx context.Context, next func() ([]NewToken, error)) (int, error) {
	// The statements run under a context that is never cancelled, with ctx
	// checked between rows instead: modernc's driver watches a cancellable
	// context with a goroutine per statement, a tenth of the batch's time.
	run := context.WithoutCancel(ctx)
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if s.flavor.BulkTx != "" {
		if _, err := tx.ExecContext(ctx, s.flavor.BulkTx); err != nil {
			return 0, fmt.Errorf("bulk settings: %w", err)
		}
	}
	indexes, err := s.dropBulkIndexes(ctx, tx)
	if err != nil {
		return 0, err
	}
	written := 0
	for {
		batch, err := next()
		if err != nil {
			return written, err
		}
		if batch == nil {
			break
		}
		for _, nt := range batch {
			if nt.Token.CreateTime.IsZero() {
				return written, fmt.Errorf("token %s: no create time", nt.Token.ID)
			}
		}
		if s.flavor.BulkRows > 1 {
			err = s.insertMultiRow(ctx, run, tx, batch, s.flavor.BulkRows)
		} else {
			err = s.insertPrepared(ctx, run, tx, batch)
		}
		if err != nil {
			return written, err
		}
		written += len(batch)
	}
	for _, ix := range indexes {
		if _, err := tx.ExecContext(run, ix.definition); err != nil {
			if s.flavor.UniqueViolation != nil && s.flavor.UniqueViolation(err) {
				return written, chave.Errorf(chave.Conflict, "index %s: a key repeats", ix.name)
			}
			return written, fmt.Errorf("create index %s: %w", ix.name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return written, err
	}
	if err := tx.Commit(); err != nil {
		return written, fmt.Errorf("commit: %w", err)
	}
	return written, nil
}

// bulkIndex is a secondary index CreateTokensStream drops and creates
// again.
type bulkIndex struct{ name, definition string }

// dropBulkIndexes drops, on tx, the indexes Flavor.BulkIndexes lists and
// returns them, to be created again in the order they were listed.
func (s *Store) dropBulkIndexes(ctx context.Context, tx *sql.Tx) ([]bulkIndex, error) {
	if s.flavor.BulkIndexes == "" {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, s.flavor.BulkIndexes)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	var indexes []bulkIndex
	for rows.Next() {
		var ix bulkIndex
		if err := rows.Scan(&ix.name, &ix.definition); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list indexes: %w", err)
		}
		indexes = append(indexes, ix)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	for _, ix := range indexes {
		if _, err := tx.ExecContext(ctx, `DROP INDEX "`+strings.ReplaceAll(ix.name, `"`, `""`)+`"`); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	return indexes, nil
}
