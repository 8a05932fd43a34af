package registry

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage/sqlite"
)

// keysFixture is a registry over a secrets file that the test rotates.
type keysFixture struct {
	*fixture
	keysPath string
	provider *secrets.FileProvider
}

func newKeysFixture(t *testing.T) *keysFixture { return newKeysFixtureTB(t) }

func newKeysFixtureTB(t testing.TB) *keysFixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{logs: &syncBuffer{}, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	f.svc = &Service{log: slog.New(slog.NewJSONHandler(f.logs, nil))}
	dir := t.TempDir()
	kf := &keysFixture{fixture: f, keysPath: filepath.Join(dir, "secrets.json")}
	var err error
	if kf.provider, err = secrets.NewFileProvider(kf.keysPath, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "chave.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := New(Config{Store: store, Catalog: chave.DefaultCatalog(),
		Hasher: secrets.NewProviderHasher(kf.provider), Sealer: secrets.NewProviderSealer(kf.provider),
		Clock: func() time.Time { return f.now }, Logger: f.svc.log})
	if err != nil {
		t.Fatal(err)
	}
	kf.svc = svc
	id, _, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kf.op, err = svc.Principal(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTenant(ctx, kf.op, chave.Tenant{ID: "acme", DisplayName: "Acme", Contexts: []string{"telegram", "inventory"}}); err != nil {
		t.Fatal(err)
	}
	return kf
}

// rotate adds a version of kind and activates it, and waits until the
// provider has read it.
func (kf *keysFixture) rotate(t testing.TB, kind secrets.Kind) int {
	t.Helper()
	var v int
	_, err := secrets.UpdateKeyFile(kf.keysPath, func(k *secrets.Keys) error {
		var err error
		if v, err = k.Ring(kind).Add(time.Now()); err != nil {
			return err
		}
		return k.Ring(kind).Activate(v, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	kf.waitActive(t, kind, v)
	return v
}

func (kf *keysFixture) waitActive(t testing.TB, kind secrets.Kind, v int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		k, err := kf.provider.Keys(context.Background())
		if err == nil && k.Ring(kind).Active == v {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider never read %s version %d", kind, v)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (kf *keysFixture) stored(t *testing.T, id string) chave.Token {
	t.Helper()
	tok, err := kf.svc.store.GetToken(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func countEvents(t *testing.T, kf *keysFixture, id, action string) int {
	t.Helper()
	evs, err := kf.svc.store.ListTokenEvents(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}

// TestNewRehashOnUseKeepsSecretVersion: after the hashing key rotates, a
// secret hashed under the old version still authenticates, is re-hashed
// under the new one once (however many grants race), and keeps the
// secret version that its tokens and revocation entries name.
func TestNewRehashOnUseKeepsSecretVersion(t *testing.T) {
	kf := newKeysFixture(t)
	ctx := context.Background()
	tok, secret, err := kf.svc.CreateToken(ctx, kf.op, chave.Token{DisplayName: "svc", Tenant: "acme", Contexts: []string{"inventory"}})
	if err != nil {
		t.Fatal(err)
	}
	before := kf.stored(t, tok.ID)
	if before.SecretHashVersion != 1 {
		t.Fatalf("hash version = %d, want 1", before.SecretHashVersion)
	}
	first, err := kf.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}

	v2 := kf.rotate(t, secrets.KindHMAC)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			c, err := kf.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
			if err == nil && c.SecretVersion != first.SecretVersion {
				err = chave.Errorf(chave.Internal, "secret version changed from %s to %s", first.SecretVersion, c.SecretVersion)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("grant during the re-hash: %v", err)
		}
	}
	after := kf.stored(t, tok.ID)
	if after.SecretHashVersion != v2 || string(after.SecretHash) == string(before.SecretHash) {
		t.Fatalf("after use: hash version %d (want %d), hash changed %v", after.SecretHashVersion, v2, string(after.SecretHash) != string(before.SecretHash))
	}
	if secretVersionOf(after) != first.SecretVersion {
		t.Fatalf("secret version %q after the re-hash, want %q", secretVersionOf(after), first.SecretVersion)
	}
	if n := countEvents(t, kf, tok.ID, chave.ActionRehash); n != 1 {
		t.Fatalf("%d re-hash events, want 1", n)
	}
	// Further uses write nothing.
	if _, err := kf.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, kf, tok.ID, chave.ActionRehash); n != 1 {
		t.Fatalf("%d re-hash events after another use, want 1", n)
	}
	// A wrong secret still fails, under either version.
	other, _ := secrets.NewClientSecret()
	if _, err := kf.svc.AuthenticateClient(ctx, tok.ID, other.Reveal()); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("a wrong secret: %v", err)
	}
	// The old version protects nothing live now.
	u, err := kf.svc.KeyUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Credentials[1] != 1 { // the operator, never used since
		t.Fatalf("usage of hmac version 1 = %d, want 1 (the operator only): %v", u.Credentials[1], u.Credentials)
	}

	// A leak report finds the re-hashed secret.
	revoked, err := kf.svc.ReportLeakedSecrets(ctx, []string{secret.Reveal()}, LeakReport{Source: "test"})
	if err != nil || !revoked[0] {
		t.Fatalf("leak report after the re-hash = %v, %v", revoked, err)
	}
}

// TestNewRotateAfterRehashChangesSecretVersion: the frozen secret version
// belongs to the secret, not the credential: rotating the secret gives a
// new one, so tokens of the old secret stop working.
func TestNewRotateAfterRehashChangesSecretVersion(t *testing.T) {
	kf := newKeysFixture(t)
	ctx := context.Background()
	tok, secret, err := kf.svc.CreateToken(ctx, kf.op, chave.Token{DisplayName: "svc", Tenant: "acme", Contexts: []string{"inventory"}})
	if err != nil {
		t.Fatal(err)
	}
	kf.rotate(t, secrets.KindHMAC)
	c1, err := kf.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if kf.stored(t, tok.ID).SecretVersion == "" {
		t.Fatal("the re-hash did not freeze the secret version")
	}
	_, fresh, err := kf.svc.RotateToken(ctx, kf.op, tok.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := kf.svc.AuthenticateClient(ctx, tok.ID, fresh.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	if c2.SecretVersion == c1.SecretVersion {
		t.Fatal("rotating the secret kept the secret version")
	}
	if _, err := kf.svc.AuthenticateClient(ctx, tok.ID, secret.Reveal()); !chave.IsCode(err, chave.Unauthenticated) {
		t.Fatalf("the old secret after rotation: %v", err)
	}
	if _, err := kf.svc.Principal(ctx, tok.ID, c1.SecretVersion); err == nil {
		t.Fatal("an access token of the old secret still names a principal")
	}
}

// TestNewRewrapParameters: parameters sealed under the old version still
// open after the seal key rotates; rewrap moves them all to the new one,
// keeps their plaintext, and a second run finds nothing.
func TestNewRewrapParameters(t *testing.T) {
	kf := newKeysFixture(t)
	ctx := context.Background()
	var ids []string
	for range 7 {
		tok, _, err := kf.svc.CreateToken(ctx, kf.op, chave.Token{DisplayName: "bot", Tenant: "acme", Contexts: []string{"telegram"},
			Parameters: chave.Parameters{"telegram": {"botToken": botToken}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	v2 := kf.rotate(t, secrets.KindSeal)
	// Still readable under version 1.
	for _, id := range ids {
		stored := kf.stored(t, id)
		if v, _ := secrets.SealedVersion(stored.Parameters["telegram"]["botToken"]); v != 1 {
			t.Fatalf("sealed under %d before rewrap", v)
		}
		if p, err := kf.svc.openParameters(ctx, id, stored.Parameters); err != nil || p["telegram"]["botToken"] != botToken {
			t.Fatalf("open under version 1 after rotation: %v", err)
		}
	}
	var progress int
	res, err := kf.svc.RewrapParameters(ctx, 3, func(RewrapResult) { progress++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewrapped != 7 || res.Values != 7 || len(res.Failed) != 0 || res.Scanned != 8 || progress < 3 {
		t.Fatalf("rewrap = %+v after %d progress reports", res, progress)
	}
	for _, id := range ids {
		stored := kf.stored(t, id)
		if v, _ := secrets.SealedVersion(stored.Parameters["telegram"]["botToken"]); v != v2 {
			t.Fatalf("sealed under %d after rewrap, want %d", v, v2)
		}
		if p, err := kf.svc.openParameters(ctx, id, stored.Parameters); err != nil || p["telegram"]["botToken"] != botToken {
			t.Fatalf("open after rewrap: %v", err)
		}
		if n := countEvents(t, kf, id, chave.ActionRewrap); n != 1 {
			t.Fatalf("%d rewrap events, want 1", n)
		}
	}
	u, err := kf.svc.KeyUsage(ctx)
	if err != nil || u.Parameters[1] != 0 || u.Parameters[v2] != 7 {
		t.Fatalf("usage after rewrap = %+v, %v", u.Parameters, err)
	}
	again, err := kf.svc.RewrapParameters(ctx, 3, nil)
	if err != nil || again.Rewrapped != 0 || again.Values != 0 {
		t.Fatalf("second rewrap = %+v, %v", again, err)
	}
	// Retire version 1: the values stay readable.
	if _, err := secrets.UpdateKeyFile(kf.keysPath, func(k *secrets.Keys) error {
		if err := k.Encryption.CheckRetire(secrets.KindSeal, 1, secrets.RetireCheck{InUse: u.Parameters[1]}); err != nil {
			return err
		}
		return k.Encryption.Retire(1, time.Now())
	}); err != nil {
		t.Fatal(err)
	}
	got, err := kf.svc.GetToken(ctx, kf.op, ids[0])
	if err != nil || got.Parameters["telegram"]["botToken"] != maskSecret(botToken) {
		t.Fatalf("GetToken after retiring version 1 = %v, %v", got.Parameters, err)
	}
}

// TestNewRewrapReportsWhatWillNotOpen: a value that fails to open (its
// version retired too early) is reported, left alone, and the rest goes on.
func TestNewRewrapReportsWhatWillNotOpen(t *testing.T) {
	kf := newKeysFixture(t)
	ctx := context.Background()
	tok, _, err := kf.svc.CreateToken(ctx, kf.op, chave.Token{DisplayName: "bot", Tenant: "acme", Contexts: []string{"telegram"},
		Parameters: chave.Parameters{"telegram": {"botToken": botToken}}})
	if err != nil {
		t.Fatal(err)
	}
	kf.rotate(t, secrets.KindSeal)
	if _, err := secrets.UpdateKeyFile(kf.keysPath, func(k *secrets.Keys) error { return k.Encryption.Retire(1, time.Now()) }); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		k, _ := kf.provider.Keys(ctx)
		if _, ok := k.Encryption.Key(1); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the provider never saw the retirement")
		}
		time.Sleep(2 * time.Millisecond)
	}
	before := kf.stored(t, tok.ID)
	res, err := kf.svc.RewrapParameters(ctx, 10, nil)
	if err != nil || len(res.Failed) != 1 || res.Failed[0] != tok.ID || res.Rewrapped != 0 {
		t.Fatalf("rewrap = %+v, %v", res, err)
	}
	if after := kf.stored(t, tok.ID); after.Parameters["telegram"]["botToken"] != before.Parameters["telegram"]["botToken"] {
		t.Fatal("a value that would not open was changed")
	}
}

// BenchmarkRewrap1000 re-seals the bot tokens of 1,000 credentials after
// each seal rotation (SQLite, one transaction per credential).
func BenchmarkRewrap1000(b *testing.B) {
	kf := newKeysFixtureTB(b)
	ctx := context.Background()
	for range 1000 {
		if _, _, err := kf.svc.CreateToken(ctx, kf.op, chave.Token{DisplayName: "bot", Tenant: "acme", Contexts: []string{"telegram"},
			Parameters: chave.Parameters{"telegram": {"botToken": botToken}}}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		kf.rotate(b, secrets.KindSeal)
		b.StartTimer()
		res, err := kf.svc.RewrapParameters(ctx, 200, nil)
		if err != nil || res.Values != 1000 {
			b.Fatalf("rewrap = %+v, %v", res, err)
		}
	}
}
