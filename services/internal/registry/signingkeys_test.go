package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
	"github.com/chave/chave/services/internal/storage/sqlite"
	"github.com/chave/chave/services/internal/testserver"
	"github.com/chave/chave/services/revocation"
)

// TestNewRebuildKeepsRevokedSigningKeys: a signing key revoked by an
// emergency rotation is in the database, and a revocation set rebuilt
// after Redis lost everything refuses its tokens again; a key revoked
// longer ago than any token lives is not written.
func TestNewRebuildKeepsRevokedSigningKeys(t *testing.T) {
	srv := testserver.StartRedis(t)
	var set *revocation.Redis
	f := newFixtureWith(t, func(clock func() time.Time) revocation.Set { set = redisSet(t, srv, clock); return set })
	ctx := context.Background()
	store, err := sqlite.Open(ctx, f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	row := func(id string, revoked time.Time) chave.SigningKey {
		return chave.SigningKey{ID: id, Algorithm: "ES256", Sealed: []byte("sealed"), CreateTime: f.now.Add(-48 * time.Hour),
			ActivateTime: f.now.Add(-48 * time.Hour), RetireTime: revoked, RevokeTime: revoked}
	}
	if _, err := store.UpdateSigningKeys(ctx, func(storage.SigningKeySet) ([]chave.SigningKey, error) {
		return []chave.SigningKey{row("kid-leaked", f.now.Add(-time.Minute)), row("kid-ancient", f.now.Add(-25*time.Hour))}, nil
	}); err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	if _, err := set.IsRevoked(ctx, revocation.Query{KeyID: "kid-leaked"}); !errors.Is(err, revocation.ErrLost) {
		t.Fatalf("IsRevoked after the loss: %v, want ErrLost", err)
	}
	if err := f.svc.RebuildRevocations(ctx); err != nil {
		t.Fatal(err)
	}
	for kid, want := range map[string]bool{"kid-leaked": true, "kid-ancient": false, "kid-other": false} {
		got, err := set.IsRevoked(ctx, revocation.Query{ClientID: "c", IssuedAt: f.now.Add(-time.Hour), TokenID: "j", KeyID: kid})
		if err != nil || got != want {
			t.Errorf("a token of %s after the rebuild: revoked %v, %v; want %v", kid, got, err, want)
		}
	}
}
