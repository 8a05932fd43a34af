package revocation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// recordingSet is a Set that records the query it is asked.
type recordingSet struct {
	revocation.Set
	got     revocation.Query
	calls   int
	revoked bool
	err     error
}

func (s *recordingSet) IsRevoked(_ context.Context, q revocation.Query) (bool, error) {
	s.got = q
	s.calls++
	return s.revoked, s.err
}

func TestCheckerMapsClaims(t *testing.T) {
	iat := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	claims := verify.Claims{
		Subject: "sub-1", ClientID: "client-1", IssuedAt: iat, ID: "jti-1", SessionID: "fam-1",
		Expiry: iat.Add(time.Hour), Scopes: []string{"a"}, TenantID: "acme",
	}
	want := revocation.Query{ClientID: "client-1", IssuedAt: iat, TokenID: "jti-1", FamilyID: "fam-1"}
	if got := revocation.QueryFor(claims); got != want {
		t.Errorf("QueryFor = %+v, want %+v", got, want)
	}

	set := &recordingSet{revoked: true}
	revoked, err := revocation.Checker(set).IsRevoked(context.Background(), claims)
	if err != nil || !revoked {
		t.Fatalf("IsRevoked = %v, %v; want true, nil", revoked, err)
	}
	if set.calls != 1 || set.got != want {
		t.Errorf("the set was asked %d times, last %+v; want once, %+v", set.calls, set.got, want)
	}

	set = &recordingSet{err: revocation.ErrUnavailable}
	if _, err := revocation.Checker(set).IsRevoked(context.Background(), claims); !errors.Is(err, revocation.ErrUnavailable) {
		t.Errorf("IsRevoked error = %v, want the set's", err)
	}
}

// TestCheckerWithMemory: each kind of entry revokes the tokens it names.
func TestCheckerWithMemory(t *testing.T) {
	ctx := context.Background()
	at := time.Now().Truncate(time.Second)
	until := at.Add(time.Hour)
	set := revocation.NewMemory(nil)
	defer set.Close()
	if err := set.Revoke(ctx,
		revocation.Entry{Kind: revocation.AccessToken, ID: "jti-revoked", At: at, Until: until},
		revocation.Entry{Kind: revocation.Family, ID: "fam-revoked", At: at, Until: until},
		revocation.Entry{Kind: revocation.Credential, ID: "client-revoked", At: at, Until: until},
		// A rotation: every token of client-1's secret version v-old.
		revocation.Entry{Kind: revocation.Credential, ID: revocation.CredentialKey("client-1", "v-old"), At: until, Until: until},
	); err != nil {
		t.Fatal(err)
	}
	c := revocation.Checker(set)
	base := verify.Claims{ClientID: "client-1", IssuedAt: at.Add(-time.Minute), ID: "jti-1", SessionID: "fam-1"}
	for _, tt := range []struct {
		name   string
		mutate func(*verify.Claims)
		want   bool
	}{
		{"none", func(*verify.Claims) {}, false},
		{"jti", func(c *verify.Claims) { c.ID = "jti-revoked" }, true},
		{"family", func(c *verify.Claims) { c.SessionID = "fam-revoked" }, true},
		{"no family", func(c *verify.Claims) { c.SessionID = "" }, false},
		{"credential, issued before", func(c *verify.Claims) { c.ClientID = "client-revoked" }, true},
		{"credential, issued at the instant", func(c *verify.Claims) { c.ClientID, c.IssuedAt = "client-revoked", at }, true},
		{"credential, issued after", func(c *verify.Claims) { c.ClientID, c.IssuedAt = "client-revoked", at.Add(time.Second) }, false},
		{"a rotated secret version", func(c *verify.Claims) { c.SecretVersion, c.IssuedAt = "v-old", at.Add(time.Second) }, true},
		{"the current secret version", func(c *verify.Claims) { c.SecretVersion = "v-new" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl := base
			tt.mutate(&cl)
			got, err := c.IsRevoked(ctx, cl)
			if err != nil || got != tt.want {
				t.Errorf("IsRevoked(%+v) = %v, %v; want %v", cl, got, err, tt.want)
			}
		})
	}
}

func TestCheckerOfNilSetPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Checker(nil) did not panic")
		}
	}()
	revocation.Checker(nil)
}
