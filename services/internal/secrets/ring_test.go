package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestNewKeyRingAddActivateRetire(t *testing.T) {
	r := SingleVersion(bytes.Repeat([]byte{1}, 32))
	v2, err := r.Add(t0)
	if err != nil || v2 != 2 {
		t.Fatalf("Add = %d, %v", v2, err)
	}
	if r.Active != 1 {
		t.Fatal("Add activated the new version")
	}
	if err := r.Retire(1, t0); err == nil {
		t.Fatal("the active version retired")
	}
	if err := r.Activate(2, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	old, _ := r.Version(1)
	if r.Active != 2 || !old.DeactivateTime.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after Activate(2): active %d, version 1 deactivated %v", r.Active, old.DeactivateTime)
	}
	if got := r.Usable(); len(got) != 2 || got[0].Version != 2 || got[1].Version != 1 {
		t.Fatalf("Usable = %+v, want 2 then 1", got)
	}
	if err := r.Retire(1, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Key(1); ok {
		t.Fatal("a retired version still has its key")
	}
	if err := r.Activate(1, t0); err == nil {
		t.Fatal("a retired version was activated")
	}
	if v3, _ := r.Add(t0); v3 != 3 {
		t.Fatalf("the version after a retirement = %d, want 3 (numbers are never reused)", v3)
	}
	if err := r.Validate(KindHMAC); err != nil {
		t.Fatal(err)
	}
	if err := r.Activate(9, t0); err == nil {
		t.Fatal("an absent version was activated")
	}
}

func TestNewCheckRetire(t *testing.T) {
	r := SingleVersion(bytes.Repeat([]byte{1}, 32))
	r.Add(t0)
	r.Activate(2, t0)
	var inUse *ErrInUse
	if err := r.CheckRetire(KindHMAC, 1, RetireCheck{InUse: 3}); !errors.As(err, &inUse) || !strings.Contains(err.Error(), "3 live credentials") {
		t.Fatalf("hmac in use: %v", err)
	}
	if err := r.CheckRetire(KindSeal, 1, RetireCheck{InUse: 5}); !errors.As(err, &inUse) || !strings.Contains(err.Error(), "5 parameter values") {
		t.Fatalf("seal in use: %v", err)
	}
	if err := r.CheckRetire(KindHMAC, 1, RetireCheck{}); err != nil {
		t.Fatalf("hmac unused: %v", err)
	}
	if err := r.CheckRetire(KindHMAC, 2, RetireCheck{}); err == nil {
		t.Fatal("the active version may retire")
	}
	day := 24 * time.Hour
	if err := r.CheckRetire(KindRefresh, 1, RetireCheck{RefreshTokenLifetime: day, Now: t0.Add(day - time.Second)}); !errors.As(err, &inUse) {
		t.Fatalf("refresh within the lifetime: %v", err)
	}
	if err := r.CheckRetire(KindRefresh, 1, RetireCheck{RefreshTokenLifetime: day, Now: t0.Add(day)}); err != nil {
		t.Fatalf("refresh after the lifetime: %v", err)
	}
	r.Add(t0) // version 3, never active
	if err := r.CheckRetire(KindRefresh, 3, RetireCheck{RefreshTokenLifetime: day, Now: t0}); err != nil {
		t.Fatalf("a refresh version never active: %v", err)
	}
}

// TestNewKeyFileOldFormatIsVersionOne: a secrets file of one key per kind
// loads as version 1 of each, is written back in that form while nothing
// changed, and in the versioned form after a rotation, which reads back
// the same.
func TestNewKeyFileOldFormatIsVersionOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	keys := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)}
	old := `{"hashKey": "` + base64.StdEncoding.EncodeToString(keys[0]) + `", "encryptionKey": "` + base64.StdEncoding.EncodeToString(keys[1]) +
		`", "refreshTokenKey": "` + base64.RawURLEncoding.EncodeToString(keys[2]) + `"}`
	if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, kind := range Kinds {
		r := k.Ring(kind)
		if v, key := r.ActiveKey(); v != 1 || !bytes.Equal(key, keys[i]) || len(r.Versions) != 1 {
			t.Fatalf("%s: active %d, %d versions, key ok %v", kind, v, len(r.Versions), bytes.Equal(key, keys[i]))
		}
	}
	if err := WriteKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"hashKey"`) || strings.Contains(string(data), `"versions"`) {
		t.Fatalf("an unrotated file changed form: %s", data)
	}
	rotated, err := UpdateKeyFile(path, func(k *Keys) error {
		v, err := k.Hash.Add(t0)
		if err != nil {
			return err
		}
		return k.Hash.Activate(v, t0)
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"hashKey"`) || !strings.Contains(string(data), `"versions"`) {
		t.Fatalf("a rotated file kept the old form: %s", data)
	}
	again, err := ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range Kinds {
		a, b := rotated.Ring(kind), again.Ring(kind)
		if a.Active != b.Active || len(a.Versions) != len(b.Versions) {
			t.Fatalf("%s changed across a write and read: %+v vs %+v", kind, a, b)
		}
		for i := range a.Versions {
			if !bytes.Equal(a.Versions[i].Key, b.Versions[i].Key) || !a.Versions[i].ActivateTime.Equal(b.Versions[i].ActivateTime) {
				t.Fatalf("%s version %d changed across a write and read", kind, a.Versions[i].Version)
			}
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", info.Mode().Perm(), err)
	}
	// A file naming a retired or absent active version is refused.
	bad := strings.Replace(string(data), `"active": 2`, `"active": 7`, 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadKeyFile(path); err == nil {
		t.Fatal("a file whose active version is absent loaded")
	}
}

func TestNewHasherVersions(t *testing.T) {
	ctx := context.Background()
	r := SingleVersion(bytes.Repeat([]byte{1}, 32))
	p := NewStaticProvider(Keys{Hash: r})
	s, _ := NewClientSecret()
	h1, _ := NewProviderHasher(p).Hash(ctx, s)

	r.Add(t0)
	r.Activate(2, t0)
	p2 := NewStaticProvider(Keys{Hash: r})
	h := NewProviderHasher(p2)
	h2, _ := h.Hash(ctx, s)
	if h2.Version != 2 || bytes.Equal(h1.Sum, h2.Sum) {
		t.Fatalf("hash after rotation = version %d, same sum %v", h2.Version, bytes.Equal(h1.Sum, h2.Sum))
	}
	for _, c := range []struct {
		want SecretHash
		ok   bool
	}{
		{h1, true}, {h2, true},
		{SecretHash{Version: 0, Sum: h1.Sum}, true}, // stored before versions
		{SecretHash{Version: 2, Sum: h1.Sum}, false},
		{SecretHash{Version: 1, Sum: h2.Sum}, false},
	} {
		if ok, err := h.Verify(ctx, s, c.want); ok != c.ok || err != nil {
			t.Errorf("Verify(version %d) = %v, %v; want %v", c.want.Version, ok, err, c.ok)
		}
	}
	cands, _ := h.Candidates(ctx, s)
	if len(cands) != 2 || cands[0].Version != 2 || cands[1].Version != 1 || !bytes.Equal(cands[1].Sum, h1.Sum) {
		t.Fatalf("Candidates = %+v", cands)
	}
	if _, err := h.Verify(ctx, s, SecretHash{Version: 3, Sum: h1.Sum}); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("Verify of an unknown version: %v", err)
	}
	r.Retire(1, t0)
	h = NewProviderHasher(NewStaticProvider(Keys{Hash: r}))
	if _, err := h.Verify(ctx, s, h1); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("Verify under a retired version: %v", err)
	}
}

func TestNewSealerVersions(t *testing.T) {
	ctx := context.Background()
	r := KeyRing{Active: 1, Versions: []KeyVersion{{Version: 1, Key: bytes.Repeat([]byte{7}, 32)}}}
	old, _ := NewProviderSealer(NewStaticProvider(Keys{Encryption: r})).Seal(ctx, "plain", "aad")
	if !strings.HasPrefix(old, "v1:") {
		t.Fatalf("version 1 seals as %q, want the v1: form of earlier releases", old)
	}
	r.Add(t0)
	r.Activate(2, t0)
	s := NewProviderSealer(NewStaticProvider(Keys{Encryption: r}))
	sealed, err := s.Seal(ctx, "plain", "aad")
	if err != nil || !strings.HasPrefix(sealed, "v2:2:") {
		t.Fatalf("Seal under version 2 = %q, %v", sealed, err)
	}
	if v, ok := SealedVersion(sealed); !ok || v != 2 {
		t.Fatalf("SealedVersion = %d, %v", v, ok)
	}
	for _, in := range []string{old, sealed} {
		if got, err := s.Open(ctx, in, "aad"); err != nil || got != "plain" {
			t.Fatalf("Open(%q) = %q, %v", in, got, err)
		}
	}
	body := strings.TrimPrefix(sealed, "v2:2:")
	for _, bad := range []string{"v2:02:" + body, "v2:1:" + body, "v2:x:" + body, "v2::" + body, "v2:3:" + body, "v2:" + body, "v1:" + body} {
		if _, err := s.Open(ctx, bad, "aad"); err == nil {
			t.Errorf("Open(%q) accepted", bad[:8])
		}
	}
	// A version's ciphertext relabelled as another's does not open.
	if _, err := s.Open(ctx, "v2:2:"+strings.TrimPrefix(old, "v1:"), "aad"); err == nil {
		t.Fatal("a version 1 ciphertext opened as version 2")
	}
}

func TestNewParseKeyList(t *testing.T) {
	k1, k2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	r, err := ParseKeyList(KindHMAC, k1)
	if err != nil || r.Active != 1 || len(r.Versions) != 1 {
		t.Fatalf("one key = %+v, %v", r, err)
	}
	r, err = ParseKeyList(KindHMAC, "2:"+k2+", 1:"+k1)
	if err != nil || r.Active != 2 || len(r.Versions) != 2 || r.Versions[0].Version != 1 {
		t.Fatalf("a list = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "2:" + k2 + ",x:" + k1, "0:" + k1, "2:" + k2 + ",2:" + k1, "1:" + k1[:20], "2:!!"} {
		if _, err := ParseKeyList(KindHMAC, bad); err == nil {
			t.Errorf("ParseKeyList(%q) accepted", bad)
		}
	}
	if _, err := ParseKeyList(KindSeal, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 33))); err == nil {
		t.Error("a 33-byte seal key accepted")
	}
}

// TestNewFileProviderNoticesChanges: a rotation written to the file
// reaches Keys after the check interval, at once through Refresh; a file
// that stops parsing leaves the last good keys in service.
func TestNewFileProviderNoticesChanges(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.json")
	p, err := NewFileProvider(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateKeyFile(path, func(k *Keys) error {
		v, _ := k.Encryption.Add(t0)
		return k.Encryption.Activate(v, t0)
	}); err != nil {
		t.Fatal(err)
	}
	if k, _ := p.Keys(ctx); k.Encryption.Active != 1 {
		t.Fatal("Keys re-read the file before the interval")
	}
	now := time.Now()
	p.now = func() time.Time { return now.Add(2 * time.Hour) }
	if k, _ := p.Keys(ctx); k.Encryption.Active != 2 {
		t.Fatalf("Keys after the interval: active %d, want 2", k.Encryption.Active)
	}
	if _, err := UpdateKeyFile(path, func(k *Keys) error {
		v, _ := k.Hash.Add(t0)
		return k.Hash.Activate(v, t0)
	}); err != nil {
		t.Fatal(err)
	}
	if k, err := p.Refresh(ctx); err != nil || k.Hash.Active != 2 {
		t.Fatalf("Refresh: hmac active %d, %v", k.Hash.Active, err)
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return now.Add(4 * time.Hour) }
	if _, err := p.Refresh(ctx); err == nil {
		t.Fatal("Refresh of a broken file reported nothing")
	}
	if k, _ := p.Keys(ctx); k == nil || k.Hash.Active != 2 || k.Encryption.Active != 2 {
		t.Fatal("a broken file took the keys out of service")
	}
}

// TestNewKeyFileKeepsOtherMembers: the secrets file is shared (the
// key-encryption key of the signing keys lives there too): writing the
// server keys keeps what else it holds, and a file holding only that gets
// server keys added.
func TestNewKeyFileKeepsOtherMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(path, []byte(`{"keyEncryptionKey": "a2Vr"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateKeyFile(path, func(k *Keys) error { _, err := k.Encryption.Add(t0); return err }); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"keyEncryptionKey": "a2Vr"`) || !strings.Contains(string(data), `"seal"`) {
		t.Fatalf("the file lost a member or the keys: %s", data)
	}
	if k, err := ReadKeyFile(path); err != nil || len(k.Encryption.Versions) != 2 {
		t.Fatalf("ReadKeyFile = %+v, %v", k.Encryption, err)
	}
}
