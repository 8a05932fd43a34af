package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// tokenRows serves n rows of TokenColumns, token ids t0, t1, …
type tokenRows struct {
	n, next int
	scanned []string
}

func (r *tokenRows) Next() bool { r.next++; return r.next <= r.n }
func (r *tokenRows) Err() error { return nil }

func (r *tokenRows) Scan(dest ...any) error {
	id := fmt.Sprintf("t%d", r.next-1)
	r.scanned = append(r.scanned, id)
	for i, d := range dest {
		switch d := d.(type) {
		case *string:
			*d = map[int]string{0: id, 5: "[]", 6: "{}"}[i]
		case *sql.NullInt64:
			*d = sql.NullInt64{Int64: int64(1000 - r.next), Valid: i == 10}
		case *bool, *[]byte, *int, *int64:
		default:
			return fmt.Errorf("column %d: unexpected %T", i, d)
		}
	}
	return nil
}

func TestListTokensPages(t *testing.T) {
	for _, c := range []struct {
		rows, limit int
		wantIDs     []string
		wantMore    bool
	}{
		{0, 2, nil, false},
		{1, 2, []string{"t0"}, false},
		{2, 2, []string{"t0", "t1"}, false},
		{3, 2, []string{"t0", "t1"}, true}, // the query asks for limit+1 rows
	} {
		rows := &tokenRows{n: c.rows}
		var gotStmt string
		var gotArgs []any
		q := func(stmt string, args []any, read func(Rows) error) error {
			gotStmt, gotArgs = stmt, args
			return read(rows)
		}
		page, err := listTokens(q, storage.TokenFilter{Limit: c.limit})
		if err != nil {
			t.Fatalf("%d rows, limit %d: %v", c.rows, c.limit, err)
		}
		var ids []string
		for _, tok := range page.Tokens {
			ids = append(ids, tok.ID)
		}
		if !slices.Equal(ids, c.wantIDs) || page.More != c.wantMore {
			t.Errorf("%d rows, limit %d: got %q, more %v; want %q, more %v", c.rows, c.limit, ids, page.More, c.wantIDs, c.wantMore)
		}
		if !slices.Equal(rows.scanned, c.wantIDs) {
			t.Errorf("%d rows, limit %d: scanned %q, want only the page %q", c.rows, c.limit, rows.scanned, c.wantIDs)
		}
		if want := `SELECT ` + TokenColumns + ` FROM tokens ORDER BY create_time DESC, id DESC LIMIT $1`; gotStmt != want {
			t.Errorf("statement %q, want %q", gotStmt, want)
		}
		if !slices.Equal(gotArgs, []any{c.limit + 1}) {
			t.Errorf("arguments %v, want [%d]", gotArgs, c.limit+1)
		}
	}
}

func TestListQueryFilters(t *testing.T) {
	now := time.UnixMicro(500)
	after := &storage.Cursor{CreateTime: time.UnixMicro(900), ID: "x"}
	stmt, args, err := ListQuery(storage.TokenFilter{Tenant: "acme", State: chave.StateActive, Now: now, Limit: 10, After: after})
	if err != nil {
		t.Fatal(err)
	}
	// The rows whose expired mark agrees with now, walked in order; those
	// whose mark disagrees, searched by expiry. (What they answer is the
	// conformance suite's to check, on every backend.)
	for _, part := range []string{
		`FROM tokens WHERE (tenant = $1) AND ((create_time, id) < ($2, $3)) AND (state = 0)` +
			` AND (expire_time IS NULL OR expire_time + 0 > $4) ORDER BY create_time DESC, id DESC LIMIT $5) AS walked`,
		`FROM tokens WHERE (tenant = $1) AND ((create_time, id) < ($2, $3)) AND (state = 1)` +
			` AND (expire_time > $4) ORDER BY expire_time LIMIT 4611686018427387904) AS searched ORDER BY create_time DESC, id DESC LIMIT $5`,
	} {
		if !strings.Contains(stmt, part) {
			t.Errorf("statement\n%s\nlacks\n%s", stmt, part)
		}
	}
	if wantArgs := []any{"acme", int64(900), "x", int64(500), 11}; !slices.Equal(args, wantArgs) {
		t.Errorf("arguments %v, want %v", args, wantArgs)
	}
	for _, f := range []storage.TokenFilter{{Limit: 0}, {Limit: 1, State: chave.State(99)}} {
		if _, _, err := ListQuery(f); !chave.IsCode(err, chave.Invalid) {
			t.Errorf("ListQuery(%+v): got %v, want an Invalid error", f, err)
		}
	}
	if _, err := listTokens(func(string, []any, func(Rows) error) error { return errors.New("not run") },
		storage.TokenFilter{}); !chave.IsCode(err, chave.Invalid) {
		t.Errorf("listTokens with no limit: got %v, want an Invalid error without running the query", err)
	}
}
