package signing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/chave/chave/services/verify"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// withClock makes s read its time from a new fake clock set to t.
func withClock(s *KeySet, t time.Time) *fakeClock {
	c := &fakeClock{t: t}
	s.state.now = c.Now
	return c
}

func claimsAt(t time.Time) Claims {
	c := testClaims()
	c.IssuedAt = t
	c.Expiry = t.Add(30 * time.Minute)
	return c
}

// tokenHeader returns the kid and alg of a compact JWS.
func tokenHeader(t *testing.T, tok string) (kid, alg string) {
	t.Helper()
	h := decodeJSONSegment(t, strings.SplitN(tok, ".", 2)[0])
	kid, _ = h["kid"].(string)
	alg, _ = h["alg"].(string)
	return kid, alg
}

func signAt(t *testing.T, s *KeySet, c *fakeClock, at time.Time) string {
	t.Helper()
	c.Set(at)
	tok, err := s.Sign(claimsAt(at))
	if err != nil {
		t.Fatalf("Sign at %v: %v", at, err)
	}
	return tok
}

// publishedKids returns the kids of the public JWKS.
func publishedKids(t *testing.T, s *KeySet) []string {
	t.Helper()
	doc, err := s.PublicJWKS()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Alg string `json:"alg"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS %s: %v", doc, err)
	}
	if set.Keys == nil {
		t.Fatalf("JWKS %s has no keys array", doc)
	}
	kids := make([]string, len(set.Keys))
	for i, k := range set.Keys {
		kids[i] = k.Kid
	}
	slices.Sort(kids)
	return kids
}

func sorted(kids ...string) []string {
	kids = slices.Clone(kids)
	slices.Sort(kids)
	return kids
}

func verifierAt(t *testing.T, s *KeySet, at time.Time) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Config{
		Issuer: "https://auth.example", Audience: "chave",
		Algorithms: s.Algorithms(), Keys: s,
		Clock: func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRotatePublishesBeforeSigning(t *testing.T) {
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	clock := withClock(s, t0)
	old := s.Active()

	rotatedAt := t0.Add(time.Hour)
	next, err := s.Rotate(jwa.ES256, rotatedAt, 10*time.Minute, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	activation := rotatedAt.Add(10 * time.Minute)
	if !next.Activates().Equal(activation) || !next.Created().Equal(rotatedAt) || !next.Retired().IsZero() {
		t.Errorf("new key = %v, want created %v, activating %v, not retired", next, rotatedAt, activation)
	}
	both := sorted(old.ID(), next.ID())
	for _, at := range []time.Time{rotatedAt, activation.Add(-time.Second), activation, activation.Add(time.Hour)} {
		tok := signAt(t, s, clock, at)
		kid, _ := tokenHeader(t, tok)
		want := old.ID()
		if !at.Before(activation) {
			want = next.ID()
		}
		if kid != want {
			t.Errorf("token signed at %v has kid %s, want %s", at, kid, want)
		}
		if got := s.Active().ID(); got != want {
			t.Errorf("Active() at %v = %s, want %s", at, got, want)
		}
		if got := publishedKids(t, s); !slices.Equal(got, both) {
			t.Errorf("JWKS at %v holds %v, want both keys %v", at, got, both)
		}
		if _, err := verifierAt(t, s, at).Verify(context.Background(), tok); err != nil {
			t.Errorf("token signed at %v does not verify: %v", at, err)
		}
	}
	all := s.All()
	if len(all) != 2 || all[0].ID() != next.ID() || all[1].ID() != old.ID() {
		t.Fatalf("All() = %v, want [new, old]", all)
	}
	if !all[1].Retired().Equal(activation) {
		t.Errorf("old key retires at %v, want the new key's activation %v", all[1].Retired(), activation)
	}
	// The ActiveAt view agrees without moving the clock.
	if s.ActiveAt(activation.Add(-time.Second)).ID() != old.ID() || s.ActiveAt(activation).ID() != next.ID() {
		t.Error("ActiveAt disagrees with the rotation's activation instant")
	}
}

func TestRotateRoundsActivationUp(t *testing.T) {
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(1500 * time.Millisecond)
	k, err := s.Rotate("", now, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(2 * time.Second); !k.Activates().Equal(want) {
		t.Errorf("activates %v, want %v (now rounded up to the second)", k.Activates(), want)
	}
	if k.Algorithm() != DefaultAlgorithm {
		t.Errorf("empty algorithm rotated to %s, want %s", k.Algorithm(), DefaultAlgorithm)
	}
}

func TestRotatedTokensVerifyUntilPruned(t *testing.T) {
	const lifetime = 30 * time.Minute
	retention := lifetime + verify.DefaultLeeway
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	clock := withClock(s, t0)
	old := s.Active()
	oldTok := signAt(t, s, clock, t0.Add(14*time.Minute)) // expires t0+44m

	next, err := s.Rotate(jwa.ES256, t0.Add(5*time.Minute), 10*time.Minute, retention)
	if err != nil {
		t.Fatal(err)
	}
	activation := next.Activates() // t0+15m
	newTok := signAt(t, s, clock, activation.Add(5*time.Minute))
	if kid, _ := tokenHeader(t, newTok); kid != next.ID() {
		t.Fatalf("token after the activation has kid %s, want %s", kid, next.ID())
	}

	// Until the old token expires, both verify.
	for _, at := range []time.Time{activation.Add(5 * time.Minute), t0.Add(30 * time.Minute), t0.Add(43 * time.Minute)} {
		v := verifierAt(t, s, at)
		if _, err := v.Verify(context.Background(), oldTok); err != nil {
			t.Errorf("at %v the old key's token fails: %v", at, err)
		}
		if _, err := v.Verify(context.Background(), newTok); err != nil {
			t.Errorf("at %v the new key's token fails: %v", at, err)
		}
	}

	// Not pruned a second before the retention ends; pruned at its end.
	end := activation.Add(retention)
	if pruned, err := s.Prune(end.Add(-time.Second), retention); err != nil || len(pruned) != 0 {
		t.Fatalf("Prune before the retention ends = %v, %v; want nothing pruned", pruned, err)
	}
	if got := publishedKids(t, s); !slices.Equal(got, sorted(old.ID(), next.ID())) {
		t.Fatalf("JWKS before pruning = %v", got)
	}
	pruned, err := s.Prune(end, retention)
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].ID() != old.ID() {
		t.Fatalf("Prune at the end of the retention = %v, want the old key", pruned)
	}
	if got := publishedKids(t, s); !slices.Equal(got, []string{next.ID()}) {
		t.Errorf("JWKS after pruning = %v, want only %s", got, next.ID())
	}
	if _, err := verifierAt(t, s, end).Verify(context.Background(), newTok); err != nil {
		t.Errorf("the new key's token fails after pruning: %v", err)
	}
	if _, err := s.Prune(end, 0); err == nil {
		t.Error("Prune with no retention succeeded")
	}
}

func TestRotateChangesAlgorithm(t *testing.T) {
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	clock := withClock(s, t0)
	old := s.Active()
	next, err := s.Rotate(jwa.EdDSA, t0, time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Algorithms(); !slices.Contains(got, jwa.ES256) || !slices.Contains(got, jwa.EdDSA) || len(got) != 2 {
		t.Errorf("Algorithms() = %v, want ES256 and EdDSA", got)
	}
	esTok := signAt(t, s, clock, t0.Add(30*time.Second))
	edTok := signAt(t, s, clock, t0.Add(time.Minute))
	if kid, alg := tokenHeader(t, esTok); kid != old.ID() || alg != "ES256" {
		t.Errorf("before the activation: kid %s alg %s, want %s ES256", kid, alg, old.ID())
	}
	if kid, alg := tokenHeader(t, edTok); kid != next.ID() || alg != "EdDSA" {
		t.Errorf("after the activation: kid %s alg %s, want %s EdDSA", kid, alg, next.ID())
	}
	doc, _ := s.PublicJWKS()
	if !bytes.Contains(doc, []byte(`"ES256"`)) || !bytes.Contains(doc, []byte(`"EdDSA"`)) {
		t.Errorf("JWKS lacks one of the algorithms: %s", doc)
	}
	v := verifierAt(t, s, t0.Add(2*time.Minute))
	for _, tok := range []string{esTok, edTok} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("token does not verify during the overlap: %v", err)
		}
	}
	// Once the ES256 key is pruned, only EdDSA is left.
	if _, err := s.Prune(t0.Add(time.Minute+time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := s.Algorithms(); !slices.Equal(got, []jwa.SignatureAlgorithm{jwa.EdDSA}) {
		t.Errorf("Algorithms() after pruning = %v, want [EdDSA]", got)
	}
}

func TestRotateHS512PublishesNoKey(t *testing.T) {
	s, err := Generate(jwa.HS512, t0)
	if err != nil {
		t.Fatal(err)
	}
	clock := withClock(s, t0)
	before := signAt(t, s, clock, t0)
	if _, err := s.Rotate(jwa.HS512, t0, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	after := signAt(t, s, clock, t0.Add(time.Minute))
	if doc, _ := s.PublicJWKS(); string(doc) != `{"keys":[]}` {
		t.Errorf("HS512 JWKS = %s, want {\"keys\":[]}", doc)
	}
	set, err := s.Keys(context.Background())
	if err != nil || set.Len() != 2 {
		t.Fatalf("Keys() = %v keys, %v; want both secret keys for in-process verification", set.Len(), err)
	}
	v := verifierAt(t, s, t0.Add(time.Minute))
	for _, tok := range []string{before, after} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("HS512 token does not verify in process: %v", err)
		}
	}
	kb, _ := tokenHeader(t, before)
	ka, _ := tokenHeader(t, after)
	if kb == ka {
		t.Error("the rotation did not change the signing key")
	}

	// From an asymmetric key to HS512: only the asymmetric key is published.
	es, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	esKid := es.Active().ID()
	if _, err := es.Rotate(jwa.HS512, t0, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := publishedKids(t, es); len(got) != 1 || got[0] != esKid {
		t.Errorf("JWKS after ES256 → HS512 = %v, want only the ES256 key", got)
	}
}

func TestRotateSupersedesPendingRotation(t *testing.T) {
	// Two rotations before the first activates: the first new key is
	// retired at the second's activation, so exactly one key signs at
	// any time.
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	a := s.Active()
	b, err := s.Rotate(jwa.ES256, t0, 10*time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Rotate(jwa.ES256, t0.Add(5*time.Minute), 10*time.Minute, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		at   time.Duration
		want *Key
	}{
		{9 * time.Minute, a}, {10 * time.Minute, b}, {15*time.Minute - time.Second, b}, {15 * time.Minute, c}, {time.Hour, c},
	} {
		if got := s.ActiveAt(t0.Add(tt.at)); got.ID() != tt.want.ID() {
			t.Errorf("ActiveAt(t0+%v) = %s, want %s", tt.at, got.ID(), tt.want.ID())
		}
	}
	for _, k := range s.All() {
		if k.ID() == c.ID() {
			continue
		}
		if want := t0.Add(map[string]time.Duration{a.ID(): 10 * time.Minute, b.ID(): 15 * time.Minute}[k.ID()]); !k.Retired().Equal(want) {
			t.Errorf("key %s retires at %v, want %v", k.ID(), k.Retired(), want)
		}
	}
}

func TestRotateRejectsBadArguments(t *testing.T) {
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		alg        jwa.SignatureAlgorithm
		pre, keep  time.Duration
		errPattern string
	}{
		{jwa.ES256, -time.Second, time.Hour, "negative"},
		{jwa.ES256, 0, 0, "retention"},
		{jwa.HS256, 0, time.Hour, "not supported"},
		{jwa.NoSignature, 0, time.Hour, "not supported"},
	} {
		if _, err := s.Rotate(tt.alg, t0, tt.pre, tt.keep); err == nil || !strings.Contains(err.Error(), tt.errPattern) {
			t.Errorf("Rotate(%s, pre %v, retention %v) = %v, want an error with %q", tt.alg, tt.pre, tt.keep, err, tt.errPattern)
		}
	}
	if len(s.All()) != 1 {
		t.Errorf("failed rotations left %d keys", len(s.All()))
	}
}

func TestSignDuringRotation(t *testing.T) {
	// Under the race detector: signing never races with a rotation.
	s, err := Generate(jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := s.Sign(testClaims()); err != nil {
					t.Error(err)
					return
				}
				_, _ = s.PublicJWKS()
				_ = s.Algorithms()
			}
		})
	}
	for i := range 20 {
		if _, err := s.Rotate(jwa.ES256, time.Now().Add(time.Duration(i)*time.Second), 0, time.Hour); err != nil {
			t.Error(err)
		}
	}
	cancel()
	wg.Wait()
}

// keyFile creates a key file holding one ES256 key created at t0.
func keyFile(t *testing.T) (string, *KeySet) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signing-keys.json")
	s, err := LoadOrCreate(path, jwa.ES256, t0)
	if err != nil {
		t.Fatal(err)
	}
	return path, s
}

func TestRotateFile(t *testing.T) {
	const retention = 24 * time.Hour
	path, server := keyFile(t)
	clock := withClock(server, t0.Add(time.Hour))
	old := server.Active()

	// The operator command, in another process.
	next, err := RotateFile(path, jwa.EdDSA, t0.Add(time.Hour), 10*time.Minute, retention)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode after rotation = %v, want 0600", mode)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"signing-keys.json", "signing-keys.json.lock"}) {
		t.Errorf("directory holds %v, want the key file and its lock file (no temporary left)", names)
	}
	if lfi, err := os.Stat(path + ".lock"); err == nil && lfi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode = %v, want 0600", lfi.Mode().Perm())
	}

	// The server still signs with the old key and does not know the new
	// one until it reloads.
	if len(server.All()) != 1 {
		t.Fatal("the server's set changed without a reload")
	}
	if err := server.Reload(path); err != nil {
		t.Fatal(err)
	}
	if got := publishedKids(t, server); !slices.Equal(got, sorted(old.ID(), next.ID())) {
		t.Errorf("JWKS after reload = %v, want both keys", got)
	}
	if kid, _ := tokenHeader(t, signAt(t, server, clock, t0.Add(time.Hour))); kid != old.ID() {
		t.Errorf("before the activation the server signs with %s, want %s", kid, old.ID())
	}
	if kid, alg := tokenHeader(t, signAt(t, server, clock, next.Activates())); kid != next.ID() || alg != "EdDSA" {
		t.Errorf("after the activation the server signs with %s %s, want %s EdDSA", kid, alg, next.ID())
	}

	// The file round-trips the lifecycle times.
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range loaded.All() {
		want := server.All()[i]
		if k.ID() != want.ID() || !k.Created().Equal(want.Created()) || !k.Activates().Equal(want.Activates()) || !k.Retired().Equal(want.Retired()) {
			t.Errorf("loaded key %v, want %v", k, want)
		}
	}

	// A rotation after the retention prunes the old key from the file.
	third, err := RotateFile(path, jwa.EdDSA, next.Activates().Add(retention), 10*time.Minute, retention)
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(path); err != nil {
		t.Fatal(err)
	}
	if got := publishedKids(t, server); !slices.Equal(got, sorted(next.ID(), third.ID())) {
		t.Errorf("JWKS after the second rotation = %v, want the second and third keys (the first pruned)", got)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(old.ID())) {
		t.Error("the pruned key is still in the file")
	}
}

func TestRotateFileNeedsAFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing.json")
	if _, err := RotateFile(path, jwa.ES256, t0, 0, time.Hour); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RotateFile on a missing file = %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("RotateFile on a missing file left %d files", len(entries))
	}
	if _, err := RotateFile(path, jwa.ES256, t0, 0, 0); err == nil {
		t.Error("RotateFile without retention succeeded")
	}
}

func TestRotateFileConcurrently(t *testing.T) {
	path, _ := keyFile(t)
	const n = 8
	now := t0.Add(time.Hour)
	kids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := RotateFile(path, jwa.ES256, now, time.Minute, time.Hour)
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = k.ID()
		})
	}
	wg.Wait()
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all := s.All()
	if len(all) != n+1 {
		t.Fatalf("after %d concurrent rotations the file holds %d keys, want %d", n, len(all), n+1)
	}
	var inFile []string
	unretired := 0
	for _, k := range all {
		inFile = append(inFile, k.ID())
		if k.Retired().IsZero() {
			unretired++
		}
	}
	for _, kid := range kids {
		if !slices.Contains(inFile, kid) {
			t.Errorf("rotation to %s was lost", kid)
		}
	}
	if unretired != 1 {
		t.Errorf("%d keys are not retired, want exactly one", unretired)
	}
	// Exactly one key signs after the activation: the unretired one.
	if k := s.ActiveAt(now.Add(time.Minute)); !k.Retired().IsZero() {
		t.Errorf("the key signing after the rotations is retired: %v", k)
	}
}

func TestReloadPicksUpAnotherInstancesRotation(t *testing.T) {
	path, server := keyFile(t)
	operator, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	// Another KeySet instance rotates in memory and writes the file.
	next, err := operator.Rotate(jwa.ES256, t0, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	data, err := operator.marshalKeyFile()
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		t.Fatal(err)
	}
	withClock(server, t0)
	if err := server.Reload(path); err != nil {
		t.Fatal(err)
	}
	if got := server.Active().ID(); got != next.ID() {
		t.Errorf("after Reload the server signs with %s, want %s", got, next.ID())
	}
	// A broken file leaves the set as it was.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := server.Reload(path); err == nil {
		t.Error("Reload of a broken file succeeded")
	}
	if len(server.All()) != 2 {
		t.Error("a failed Reload changed the set")
	}
}

func TestWatchReloadsOnChange(t *testing.T) {
	path, server := keyFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		server.Watch(ctx, path, 2*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	next, err := RotateFile(path, jwa.ES256, t0, 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.ContainsFunc(server.All(), func(k *Key) bool { return k.ID() == next.ID() }) {
		if time.Now().After(deadline) {
			t.Fatal("Watch did not pick up the rotation within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return when its context ended")
	}
}

func TestScheduleRotatesOnceAcrossProcesses(t *testing.T) {
	const every, pre, retention = 24 * time.Hour, 10 * time.Minute, time.Hour
	path, a := keyFile(t)
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	first := a.Active()

	// Not due yet: nothing happens, not even a lock file.
	for _, s := range []*KeySet{a, b} {
		if err := s.maintain(path, t0.Add(every-time.Second), every, jwa.ES256, pre, retention, log); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a look with nothing due touched the lock file: %v", err)
	}

	// Due: both processes look; one rotates, the other finds it done.
	now := t0.Add(every)
	for _, s := range []*KeySet{a, b} {
		if err := s.maintain(path, now, every, jwa.ES256, pre, retention, log); err != nil {
			t.Fatal(err)
		}
	}
	file, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(file.All()); n != 2 {
		t.Fatalf("after one due rotation seen by two processes the file holds %d keys, want 2", n)
	}
	second := file.All()[0]
	if !second.Activates().Equal(now.Add(pre)) {
		t.Errorf("scheduled key activates %v, want %v", second.Activates(), now.Add(pre))
	}
	for name, s := range map[string]*KeySet{"a": a, "b": b} {
		if got := publishedKids(t, s); !slices.Equal(got, sorted(first.ID(), second.ID())) {
			t.Errorf("process %s publishes %v, want both keys", name, got)
		}
	}

	// During the pre-publication and until the new key is every old, no
	// further rotation.
	for _, at := range []time.Time{now.Add(pre - time.Second), now.Add(pre), now.Add(pre + every - time.Second)} {
		if err := b.maintain(path, at, every, jwa.ES256, pre, retention, log); err != nil {
			t.Fatal(err)
		}
	}
	if file, _ = Load(path); len(file.All()) != 1 {
		// The first key was retired at now+pre, so by now+pre+retention it
		// is pruned, with no rotation due.
		t.Fatalf("file holds %d keys, want only the second (the first pruned)", len(file.All()))
	}
	if file.All()[0].ID() != second.ID() {
		t.Fatalf("file holds %v, want %s", file.All(), second.ID())
	}
	// a learns of the pruning from the file, at its next look.
	if err := a.maintain(path, now.Add(pre+retention), every, jwa.ES256, pre, retention, log); err != nil {
		t.Fatal(err)
	}
	if got := publishedKids(t, a); !slices.Equal(got, []string{second.ID()}) {
		t.Errorf("process a publishes %v after the pruning, want only %s", got, second.ID())
	}
}

func TestRunSchedule(t *testing.T) {
	path, s := keyFile(t)
	withClock(s, t0.Add(48*time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.RunSchedule(ctx, path, 24*time.Hour, jwa.EdDSA, time.Minute, time.Hour, nil)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.All()) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("RunSchedule did not rotate a due key within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunSchedule returned %v when its context ended, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunSchedule did not return when its context ended")
	}
	if s.All()[0].Algorithm() != jwa.EdDSA {
		t.Errorf("scheduled key is %v, want EdDSA", s.All()[0])
	}
	if err := s.RunSchedule(context.Background(), path, 0, jwa.ES256, time.Minute, time.Hour, nil); err == nil {
		t.Error("RunSchedule without an interval succeeded")
	}
	if err := s.RunSchedule(context.Background(), path, time.Hour, jwa.ES256, time.Minute, 0, nil); err == nil {
		t.Error("RunSchedule without retention succeeded")
	}
}

func TestLoadKeyFileWithoutActivation(t *testing.T) {
	// Files written before rotation existed have no "activates": the key
	// signs from its creation.
	path, s := keyFile(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string][]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["keys"][0][activatesMember]; !ok {
		t.Fatalf("key file lacks %q: %s", activatesMember, data)
	}
	delete(doc["keys"][0], activatesMember)
	data, _ = json.Marshal(doc)
	loaded, err := parseKeyFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if k := loaded.Active(); k.ID() != s.Active().ID() || !k.Activates().Equal(k.Created()) {
		t.Errorf("legacy key = %v, want activation at creation", k)
	}
	// The public JWKS never holds the lifecycle members.
	doc2, _ := s.PublicJWKS()
	for _, m := range []string{createdMember, activatesMember, retiredMember} {
		if bytes.Contains(doc2, []byte(`"`+m+`"`)) {
			t.Errorf("JWKS holds %q: %s", m, doc2)
		}
	}
}
