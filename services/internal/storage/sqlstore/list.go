package sqlstore

import (
	"strconv"
	"strings"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// ListTokens returns one page of tokens through q, newest first (by create
// time, then id, both descending), after f.After when set. An invalid
// filter (a page size below 1, an unknown state) is an Invalid error.
func ListTokens(q Query, f storage.TokenFilter) (storage.TokenPage, error) {
	stmt, args, err := listQuery(f)
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
			t, err := ScanToken(rows)
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

// listQuery builds the page query: it asks for one row more than the limit
// to learn whether more follow.
func listQuery(f storage.TokenFilter) (string, []any, error) {
	if f.Limit <= 0 {
		return "", nil, chave.Errorf(chave.Invalid, "the page size must be positive, got %d", f.Limit)
	}
	var b whereBuilder
	if f.Tenant != "" {
		b.add("tenant = " + b.arg(f.Tenant))
	}
	if err := b.state(f); err != nil {
		return "", nil, err
	}
	if f.After != nil {
		b.add("(create_time, id) < (" + b.arg(f.After.CreateTime.UnixMicro()) + ", " + b.arg(f.After.ID) + ")")
	}
	query := `SELECT ` + TokenColumns + ` FROM tokens` + b.where() +
		` ORDER BY create_time DESC, id DESC LIMIT ` + b.arg(f.Limit+1)
	return query, b.args, nil
}

// state adds the condition of the filter's state, derived at f.Now exactly
// as chave.Token.State derives it.
func (b *whereBuilder) state(f storage.TokenFilter) error {
	switch f.State {
	case chave.StateUnspecified:
	case chave.StateRevoked:
		b.add("revoke_time IS NOT NULL")
	case chave.StateExpired:
		b.add("revoke_time IS NULL AND expire_time IS NOT NULL AND expire_time <= " + b.arg(f.Now.UnixMicro()))
	case chave.StateActive:
		b.add("revoke_time IS NULL AND (expire_time IS NULL OR expire_time > " + b.arg(f.Now.UnixMicro()) + ")")
	default:
		return chave.Errorf(chave.Invalid, "unknown token state %d", f.State)
	}
	return nil
}

// whereBuilder collects AND-ed conditions and their $N arguments.
type whereBuilder struct {
	conds []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (b *whereBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// add adds a condition.
func (b *whereBuilder) add(cond string) { b.conds = append(b.conds, "("+cond+")") }

// where returns the WHERE clause of the conditions, empty without any.
func (b *whereBuilder) where() string {
	if len(b.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(b.conds, " AND ")
}
