package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// Statements on token_usage (migration 0007): one row per credential and
// UTC day (its midnight in unix microseconds). addTokenUsageSQL takes the
// token id, the day and the counts to add, and adds them to the day's row,
// creating it.
const (
	addTokenUsageSQL = `INSERT INTO token_usage (token_id, day, succeeded, failed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (token_id, day) DO UPDATE SET
			succeeded = token_usage.succeeded + excluded.succeeded,
			failed = token_usage.failed + excluded.failed`
	listTokenUsageSQL = `SELECT day, succeeded, failed FROM token_usage
		WHERE token_id = $1 AND day >= $2 ORDER BY day DESC`
	pruneTokenUsageSQL = `DELETE FROM token_usage WHERE day < $1`
	// countExpiringSQL reads the live and expired rows' ranges of
	// tokens_state_expiry (migration 0004); revoked rows never count.
	countExpiringSQL = `SELECT tenant, COUNT(*) FROM tokens
		WHERE state IN (0, 1) AND expire_time > $1 AND expire_time <= $2
		GROUP BY tenant`
)

// AddTokenUsage adds each count to its credential's day, creating the day,
// in one transaction. The counts are written in the order of token id and
// day, so that concurrent flushes lock rows in one order and never
// deadlock.
func (s *Store) AddTokenUsage(ctx context.Context, counts []chave.UsageCount) error {
	sorted := slices.Clone(counts)
	sorted = slices.DeleteFunc(sorted, func(c chave.UsageCount) bool { return c.Succeeded == 0 && c.Failed == 0 })
	if len(sorted) == 0 {
		return nil
	}
	slices.SortFunc(sorted, func(a, b chave.UsageCount) int {
		if c := strings.Compare(a.TokenID, b.TokenID); c != 0 {
			return c
		}
		return a.Day.Compare(b.Day)
	})
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range sorted {
			if _, err := tx.ExecContext(ctx, addTokenUsageSQL,
				c.TokenID, chave.UsageDayOf(c.Day).UnixMicro(), c.Succeeded, c.Failed); err != nil {
				return fmt.Errorf("token %s: %w", c.TokenID, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.fail(err, "add token usage")
	}
	return nil
}

// ListTokenUsage returns a credential's days from since's day on, newest
// first.
func (s *Store) ListTokenUsage(ctx context.Context, tokenID string, since time.Time) ([]chave.UsageDay, error) {
	out, err := queryAll(queryOn(ctx, s.read), func(row Scanner) (chave.UsageDay, error) {
		var (
			d   chave.UsageDay
			day sql.NullInt64
		)
		err := row.Scan(&day, &d.Succeeded, &d.Failed)
		d.Day = decodeTime(day)
		return d, err
	}, listTokenUsageSQL, tokenID, chave.UsageDayOf(since).UnixMicro())
	if err != nil {
		return nil, s.fail(err, "list token usage %s", tokenID)
	}
	return out, nil
}

// PruneTokenUsage deletes every day before before.
func (s *Store) PruneTokenUsage(ctx context.Context, before time.Time) error {
	if _, err := s.exec(ctx, pruneTokenUsageSQL, before.UnixMicro()); err != nil {
		return s.fail(err, "prune token usage")
	}
	return nil
}

// CountExpiringTokens counts, per tenant, the tokens not revoked whose
// expire time is in (after, before].
func (s *Store) CountExpiringTokens(ctx context.Context, after, before time.Time) (map[string]int, error) {
	type row struct {
		tenant string
		n      int
	}
	rows, err := queryAll(queryOn(ctx, s.read), func(sc Scanner) (row, error) {
		var r row
		err := sc.Scan(&r.tenant, &r.n)
		return r, err
	}, countExpiringSQL, after.UnixMicro(), before.UnixMicro())
	if err != nil {
		return nil, s.fail(err, "count expiring tokens")
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.tenant] = r.n
	}
	return out, nil
}
