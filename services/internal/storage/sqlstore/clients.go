package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
)

// selectClientSQL reads a credential and its tenant in one indexed read
// (the primary keys of both tables), taking the token's id as $1: every
// column of TokenColumns, scanned by scanToken, except the parameters,
// which a grant never reads ('{}' in their place), then every column of
// tenantColumns, scanned by scanTenant, NULL when the token has no tenant
// (the operator) or names one that does not exist (a LEFT JOIN). New
// columns of either list flow through.
var selectClientSQL = `SELECT ` + qualified(TokenColumns, "k", map[string]string{"parameters": `'{}'`}) +
	`, ` + qualified(tenantColumns, "n", nil) + `
	FROM tokens k LEFT JOIN tenants n ON n.id = k.tenant WHERE k.id = $1`

// qualified returns columns prefixed with the table alias, each of replace
// (a column name) replaced by its expression.
func qualified(columns, alias string, replace map[string]string) string {
	names := columnNames(columns)
	for i, n := range names {
		if expr, ok := replace[n]; ok {
			names[i] = expr
		} else {
			names[i] = alias + "." + n
		}
	}
	return strings.Join(names, ", ")
}

// GetClient returns a token, its parameters unread (nil), with its
// tenant, in one read: the zero Tenant when the token has none or its
// tenant does not exist. NotFound if the token is absent.
func (s *Store) GetClient(ctx context.Context, id string) (chave.Token, chave.Tenant, error) {
	t, tenant, err := scanClient(s.getClient.QueryRowContext(ctx, id))
	if err = notFound(err, "token", id); err != nil {
		return chave.Token{}, chave.Tenant{}, s.fail(err, "get client %s", id)
	}
	return t, tenant, nil
}

// scanClient reads a row of selectClientSQL through scanToken and
// scanTenant, in one Scan of the row: scanToken's Scan runs scanTenant,
// whose Scan scans both destination lists at once. The tenant's
// destinations are wrapped in optional, so that the NULLs of a missing
// tenant read as its absence.
func scanClient(row Scanner) (chave.Token, chave.Tenant, error) {
	var (
		tenant chave.Tenant
		join   outerJoin
	)
	t, err := scanToken(scanFunc(func(tokenDest ...any) error {
		var err error
		tenant, err = scanTenant(scanFunc(func(tenantDest ...any) error {
			dest := make([]any, 0, len(tokenDest)+len(tenantDest))
			dest = append(dest, tokenDest...)
			opt := make([]optional, len(tenantDest))
			for i, d := range tenantDest {
				opt[i] = optional{dest: d, join: &join, key: i == 0}
				dest = append(dest, &opt[i])
			}
			return row.Scan(dest...)
		}))
		if join.absent {
			// The row scanned; its tenant's columns were all NULL, which
			// scanTenant cannot decode.
			tenant, err = chave.Tenant{}, nil
		}
		return err
	}))
	if err != nil {
		return chave.Token{}, chave.Tenant{}, err
	}
	return t, tenant, nil
}

// scanFunc is a Scanner made of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// outerJoin is what the columns of a LEFT JOIN's optional side learn: the
// first of them (the primary key, never NULL in a row that exists) tells
// whether that side is absent.
type outerJoin struct{ absent bool }

// optional scans one column of a LEFT JOIN's optional side into dest: a
// NULL key marks the side absent, and a NULL then leaves dest zero; any
// other value converts as database/sql converts it.
type optional struct {
	dest any
	join *outerJoin
	key  bool // the side's primary key, scanned first
}

func (o *optional) Scan(src any) error {
	if src == nil {
		switch {
		case o.key:
			o.join.absent = true
			return nil
		case o.join.absent:
			return nil
		}
		if d, ok := o.dest.(sql.Scanner); ok {
			return d.Scan(nil)
		}
		return fmt.Errorf("converting NULL to %T is unsupported", o.dest)
	}
	switch d := o.dest.(type) {
	case sql.Scanner:
		return d.Scan(src)
	case *string:
		return scanNotNull(d, src)
	case *[]byte:
		return scanNotNull(d, src)
	case *bool:
		return scanNotNull(d, src)
	case *int64:
		return scanNotNull(d, src)
	case *int32:
		return scanNotNull(d, src)
	case *int:
		return scanNotNull(d, src)
	case *float64:
		return scanNotNull(d, src)
	case *time.Time:
		return scanNotNull(d, src)
	}
	return fmt.Errorf("sqlstore: scanning an outer join into %T is unsupported", o.dest)
}

// scanNotNull converts src, never nil, into dest as database/sql's Scan
// does.
func scanNotNull[T any](dest *T, src any) error {
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	*dest = n.V
	return nil
}
