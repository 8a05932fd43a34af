package sqlstore

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// Statements on token_usage (migration 0007): one row per credential and
// UTC day (its midnight in unix microseconds). AddTokenUsageSQL takes the
// token id, the day and the counts to add, and adds them to the day's row,
// creating it.
const (
	AddTokenUsageSQL = `INSERT INTO token_usage (token_id, day, succeeded, failed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (token_id, day) DO UPDATE SET
			succeeded = token_usage.succeeded + excluded.succeeded,
			failed = token_usage.failed + excluded.failed`
	PruneTokenUsageSQL = `DELETE FROM token_usage WHERE day < $1`
)

// AddTokenUsage adds every count through exec (a backend's transaction),
// in the order of token id and day, so that concurrent flushes lock rows in
// one order and never deadlock.
func AddTokenUsage(exec Exec, counts []chave.UsageCount) error {
	sorted := slices.Clone(counts)
	slices.SortFunc(sorted, func(a, b chave.UsageCount) int {
		if c := strings.Compare(a.TokenID, b.TokenID); c != 0 {
			return c
		}
		return a.Day.Compare(b.Day)
	})
	for _, c := range sorted {
		if c.Succeeded == 0 && c.Failed == 0 {
			continue
		}
		if err := exec(AddTokenUsageSQL, c.TokenID, chave.UsageDayOf(c.Day).UnixMicro(), c.Succeeded, c.Failed); err != nil {
			return fmt.Errorf("token %s: %w", c.TokenID, err)
		}
	}
	return nil
}

// PruneUsageArgs returns the arguments of PruneTokenUsageSQL.
func PruneUsageArgs(before time.Time) []any {
	return []any{before.UnixMicro()}
}

// ListTokenUsage returns a credential's days from since on through q,
// newest first.
func ListTokenUsage(q Query, tokenID string, since time.Time) ([]chave.UsageDay, error) {
	return queryAll(q, func(row Scanner) (chave.UsageDay, error) {
		var (
			d   chave.UsageDay
			day sql.NullInt64
		)
		err := row.Scan(&day, &d.Succeeded, &d.Failed)
		d.Day = decodeTime(day)
		return d, err
	}, `SELECT day, succeeded, failed FROM token_usage WHERE token_id = $1 AND day >= $2 ORDER BY day DESC`,
		tokenID, chave.UsageDayOf(since).UnixMicro())
}

// CountExpiringTokens counts through q, per tenant, the tokens not revoked
// whose expire time is in (after, before], reading the live and expired
// rows' ranges of tokens_state_expiry (migration 0004).
func CountExpiringTokens(q Query, after, before time.Time) (map[string]int, error) {
	type row struct {
		tenant string
		n      int
	}
	rows, err := queryAll(q, func(s Scanner) (row, error) {
		var r row
		err := s.Scan(&r.tenant, &r.n)
		return r, err
	}, `SELECT tenant, COUNT(*) FROM tokens
		WHERE state IN (0, 1) AND expire_time > $1 AND expire_time <= $2
		GROUP BY tenant`, after.UnixMicro(), before.UnixMicro())
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.tenant] = r.n
	}
	return out, nil
}
