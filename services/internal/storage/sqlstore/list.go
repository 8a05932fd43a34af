package sqlstore

import (
	"strconv"
	"strings"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// The values of the tokens table's state column (migration 0004): an index
// key that lets a list by state walk only that state's rows, newest first.
// Revoked is exact. Expired is a mark that markExpiredSQL sets on live rows
// whose expire time has passed; lists check expire_time against their own
// now regardless, so the mark decides how much a page reads, never what it
// answers.
const (
	stateLive    = 0
	stateExpired = 1
	stateRevoked = 2
)

// Marking expired tokens, before a list for ACTIVE or EXPIRED (see
// marksExpiry): expiredUnmarkedSQL finds whether any live row's expire time
// is at or before $1, markExpiredSQL marks them all. Both read the range of
// tokens_state_expiry; as a rule there is nothing to mark.
const (
	expiredUnmarkedSQL = `SELECT 1 FROM tokens WHERE state = 0 AND expire_time <= $1 LIMIT 1`
	markExpiredSQL     = `UPDATE tokens SET state = 1 WHERE state = 0 AND expire_time <= $1`
)

// marksExpiry reports whether the list of f reads the expired marks, so
// that the store should bring them up to f.Now first (expiredUnmarkedSQL,
// markExpiredSQL) for the page to read no more rows than it returns.
func marksExpiry(f storage.TokenFilter) bool {
	return f.State == chave.StateActive || f.State == chave.StateExpired
}

// listTokens returns one page of tokens through q, newest first (by create
// time, then id, both descending), after f.After when set. An invalid
// filter (a page size below 1, an unknown state) is an Invalid error.
func listTokens(q Query, f storage.TokenFilter) (storage.TokenPage, error) {
	stmt, args, err := ListQuery(f)
	if err != nil {
		return storage.TokenPage{}, err
	}
	var page storage.TokenPage
	err = q(stmt, args, func(rows Rows) error {
		for rows.Next() {
			if len(page.Tokens) == f.Limit {
				// The row past the page, asked for only to learn this.
				page.More = true
				continue
			}
			t, err := scanToken(rows)
			if err != nil {
				return err
			}
			page.Tokens = append(page.Tokens, t)
		}
		return rows.Err()
	})
	if err != nil {
		return storage.TokenPage{}, err
	}
	return page, nil
}

// listOrder is the keyset order of every list; the indexes of migrations
// 0001 and 0004 hold it.
const listOrder = ` ORDER BY create_time DESC, id DESC`

// ListQuery returns the page query and its arguments (exported for the
// backends' tests of its plan). It asks for one row more than the limit to
// learn whether more follow.
//
// Every filter shape reads one index in the keyset order and stops after
// the page: the tenant (or not), then the state column's value. A state
// derived from expire_time and now is the union of two parts: the rows
// whose mark agrees with now, walked in order (their expire_time test,
// written expire_time + 0 so that no planner takes it for a range to
// search and then sorts, holds for every row as a rule); and the rows whose
// mark disagrees, an expiry range of tokens_*state_expiry that is empty as
// a rule.
func ListQuery(f storage.TokenFilter) (string, []any, error) {
	if f.Limit <= 0 {
		return "", nil, chave.Errorf(chave.Invalid, "the page size must be positive, got %d", f.Limit)
	}
	var b argList
	var common []string
	if f.Tenant != "" {
		common = append(common, "tenant = "+b.arg(f.Tenant))
	}
	if !f.ExpireBefore.IsZero() {
		common = append(common, "expire_time < "+b.arg(f.ExpireBefore.UnixMicro()))
	}
	if !f.UnusedSince.IsZero() {
		common = append(common, "COALESCE(last_use_time, create_time) < "+b.arg(f.UnusedSince.UnixMicro()))
	}
	if f.After != nil {
		common = append(common, "(create_time, id) < ("+b.arg(f.After.CreateTime.UnixMicro())+", "+b.arg(f.After.ID)+")")
	}
	state := func(v int) string { return "state = " + strconv.Itoa(v) }
	var now string
	if marksExpiry(f) {
		now = b.arg(f.Now.UnixMicro())
	}
	limit := b.arg(f.Limit + 1)
	var query string
	switch f.State {
	case chave.StateUnspecified:
		query = selectTokens(common) + listOrder + ` LIMIT ` + limit
	case chave.StateRevoked:
		query = selectTokens(common, state(stateRevoked)) + listOrder + ` LIMIT ` + limit
	case chave.StateActive:
		query = union(limit,
			selectTokens(common, state(stateLive), "expire_time IS NULL OR expire_time + 0 > "+now),
			selectTokens(common, state(stateExpired), "expire_time > "+now))
	case chave.StateExpired:
		query = union(limit,
			selectTokens(common, state(stateExpired), "expire_time + 0 <= "+now),
			selectTokens(common, state(stateLive), "expire_time <= "+now))
	default:
		return "", nil, chave.Errorf(chave.Invalid, "unknown token state %d", f.State)
	}
	return query, b.args, nil
}

// selectTokens selects the rows that meet every condition.
func selectTokens(common []string, conds ...string) string {
	return selectFromTokens(TokenColumns, common, conds...)
}

func selectFromTokens(columns string, common []string, conds ...string) string {
	all := append(append([]string(nil), common...), conds...)
	q := `SELECT ` + columns + ` FROM tokens`
	if len(all) > 0 {
		q += " WHERE (" + strings.Join(all, ") AND (") + ")"
	}
	return q
}

// union is the page of the rows of walked, read in the keyset order up to
// limit rows, and of the rows of searched (few as a rule), in that order.
// searched is read in expiry order: that makes its expiry index the one
// that serves it, where a planner sparing the final sort would walk every
// row of the state in the keyset order. (Its LIMIT, past any table's size,
// only keeps that ORDER BY from being dropped.)
func union(limit, walked, searched string) string {
	return `SELECT ` + TokenColumns + ` FROM (` + walked + listOrder + ` LIMIT ` + limit + `) AS walked
		UNION ALL SELECT ` + TokenColumns + ` FROM (` + searched + ` ORDER BY expire_time LIMIT 4611686018427387904) AS searched` +
		listOrder + ` LIMIT ` + limit
}

// argList numbers the arguments of a statement.
type argList struct {
	args []any
}

// arg adds v to the arguments and returns its placeholder.
func (b *argList) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}
