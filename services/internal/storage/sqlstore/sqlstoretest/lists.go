package sqlstoretest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlstore"
)

// The tenants ListTokens is measured on. In BigTenant, ACTIVE and REVOKED
// match only the 20 oldest tokens each, so that a list that filters as it
// walks the tenant in the keyset order reads all 50,000 before it can end
// its first page; in FreshTenant EXPIRED matches only its 20 oldest.
const (
	BigTenant       = "big"
	BigTenantSize   = 50_000
	FreshTenant     = "fresh"
	FreshTenantSize = 2_000
	// ListPageSize is the page size of the measured lists.
	ListPageSize = 50
)

// ListTokens returns the tokens of BigTenant and FreshTenant as they stand
// at now, oldest first, one minute apart. A backend inserts them in one
// transaction with SeedTokenSQL and SeedTokenArgs.
func ListTokens(now time.Time) []chave.Token {
	out := make([]chave.Token, 0, BigTenantSize+FreshTenantSize)
	add := func(tenant string, n int, state func(i int) chave.State) {
		for i := range n {
			created := now.Add(-time.Duration(n-i) * time.Minute)
			t := chave.Token{
				ID: fmt.Sprintf("%s-%06d", tenant, i), Tenant: tenant, DisplayName: "load", Contexts: []string{"inventory"},
				CreateTime: created, Creator: "seed",
			}
			switch state(i) {
			case chave.StateExpired:
				t.ExpireTime = created.Add(30 * time.Second)
			case chave.StateRevoked:
				t.RevokeTime, t.Revoker = created.Add(time.Second), "seed"
			case chave.StateActive:
				if i%2 == 0 {
					t.ExpireTime = now.Add(365 * 24 * time.Hour)
				}
			}
			out = append(out, t)
		}
	}
	add(BigTenant, BigTenantSize, func(i int) chave.State {
		switch {
		case i < 20:
			return chave.StateActive
		case i < 40:
			return chave.StateRevoked
		default:
			return chave.StateExpired
		}
	})
	add(FreshTenant, FreshTenantSize, func(i int) chave.State {
		if i < 20 {
			return chave.StateExpired
		}
		return chave.StateActive
	})
	return out
}

// SeedTokenSQL is sqlstore.InsertTokenSQL with the state column's value as
// its last argument (after TokenArgs), so that a seed need not mark 50,000
// expired tokens afterwards.
var SeedTokenSQL = strings.Replace(sqlstore.InsertTokenSQL, sqlstore.StateOfWrite,
	"$"+strconv.Itoa(strings.Count(sqlstore.TokenColumns, ",")+2), 1)

// SeedTokenArgs returns the arguments of SeedTokenSQL: TokenArgs and the
// state a list at now would mark.
func SeedTokenArgs(t chave.Token, now time.Time) ([]any, error) {
	args, err := sqlstore.TokenArgs(t)
	if err != nil {
		return nil, err
	}
	state := 0
	switch t.State(now) {
	case chave.StateExpired:
		state = 1
	case chave.StateRevoked:
		state = 2
	}
	return append(args, state), nil
}

// ListShape is one filter shape of the list API.
type ListShape struct {
	Name   string
	Filter storage.TokenFilter
	Want   int // the tokens its first page holds
}

// ListShapes returns every filter shape the list API offers (no tenant,
// as the operator lists across tenants, or one of the two; any state or
// one), first pages at now of the tokens of ListTokens.
func ListShapes(now time.Time) []ListShape {
	var out []ListShape
	counts := map[string]map[chave.State]int{
		"":          {chave.StateUnspecified: ListPageSize, chave.StateActive: ListPageSize, chave.StateRevoked: 20, chave.StateExpired: ListPageSize},
		BigTenant:   {chave.StateUnspecified: ListPageSize, chave.StateActive: 20, chave.StateRevoked: 20, chave.StateExpired: ListPageSize},
		FreshTenant: {chave.StateUnspecified: ListPageSize, chave.StateActive: ListPageSize, chave.StateRevoked: 0, chave.StateExpired: 20},
	}
	for _, tenant := range []string{"", BigTenant, FreshTenant} {
		for _, state := range []chave.State{chave.StateUnspecified, chave.StateActive, chave.StateRevoked, chave.StateExpired} {
			name := "tenant=" + tenant + "/state=" + state.String()
			if tenant == "" {
				name = "all-tenants/state=" + state.String()
			}
			out = append(out, ListShape{Name: name, Want: counts[tenant][state],
				Filter: storage.TokenFilter{Tenant: tenant, State: state, Now: now, Limit: ListPageSize}})
		}
	}
	return out
}

// CheckListPlans lists every shape once on s (which holds ListTokens(now)),
// checks that each first page holds what it should, and hands each shape's
// query to explain, which returns the plan's problems: a read of every row
// of tokens, or, for a shape with a state, a read of an index by anything
// but the state (or the id): a walk that filters as it goes, reading rows
// it does not return.
func CheckListPlans(t *testing.T, s storage.Store, now time.Time, explain func(ctx context.Context, shape ListShape, stmt string, args []any) []string) {
	t.Helper()
	ctx := t.Context()
	for _, shape := range ListShapes(now) {
		page, err := s.ListTokens(ctx, shape.Filter)
		if err != nil {
			t.Fatalf("%s: ListTokens: %v", shape.Name, err)
		}
		if len(page.Tokens) != shape.Want {
			t.Errorf("%s: first page of %d tokens, want %d", shape.Name, len(page.Tokens), shape.Want)
		}
		stmt, args, err := sqlstore.ListQuery(shape.Filter)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range explain(ctx, shape, stmt, args) {
			t.Errorf("%s: %s", shape.Name, p)
		}
	}
}

// BenchmarkListFirstPage measures the first page of every shape on s,
// which holds ListTokens(now).
func BenchmarkListFirstPage(b *testing.B, s storage.Store, now time.Time) {
	for _, shape := range ListShapes(now) {
		b.Run(shape.Name, func(b *testing.B) {
			for b.Loop() {
				page, err := s.ListTokens(b.Context(), shape.Filter)
				if err != nil || len(page.Tokens) != shape.Want {
					b.Fatalf("ListTokens: %d tokens, %v; want %d", len(page.Tokens), err, shape.Want)
				}
			}
		})
	}
}
