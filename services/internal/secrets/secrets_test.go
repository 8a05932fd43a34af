package secrets

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestNewClientSecretParses(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := NewClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw := s.Reveal()
		if len(raw) != SecretLen || !strings.HasPrefix(raw, SecretPrefix) {
			t.Fatalf("secret %d bytes, prefix %q", len(raw), raw[:len(SecretPrefix)])
		}
		if seen[raw] {
			t.Fatal("duplicate secret")
		}
		seen[raw] = true
		if _, err := ParseClientSecret(raw); err != nil {
			t.Fatalf("ParseClientSecret(fresh secret) = %v", err)
		}
	}
}

func TestParseClientSecretRejects(t *testing.T) {
	s, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	good := s.Reveal()
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":             "",
		"prefix only":       SecretPrefix,
		"wrong prefix":      "ghp_" + good[4:],
		"truncated":         good[:len(good)-1],
		"extended":          good + "0",
		"body typo":         flip(len(SecretPrefix) + 3),
		"checksum typo":     flip(len(good) - 1),
		"non-alphabet char": good[:20] + "-" + good[21:],
		"uppercase prefix":  strings.ToUpper(SecretPrefix) + good[len(SecretPrefix):],
	}
	for name, in := range cases {
		if _, err := ParseClientSecret(in); err == nil {
			t.Errorf("%s: ParseClientSecret(%q) accepted", name, in)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s, _ := NewClientSecret()
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "secret", s)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", s, s, s, s), logs.String()} {
		if strings.Contains(out, s.Reveal()[len(SecretPrefix):]) {
			t.Fatalf("secret leaked in %q", out)
		}
	}
}

func TestHasher(t *testing.T) {
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	h1, _ := NewHasher(k1)
	h2, _ := NewHasher(k2)
	a, _ := NewClientSecret()
	b, _ := NewClientSecret()
	ctx := context.Background()
	verify := func(h *Hasher, s ClientSecret, want SecretHash) bool {
		ok, err := h.Verify(ctx, s, want)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	hash := func(h *Hasher, s ClientSecret) SecretHash {
		sh, err := h.Hash(ctx, s)
		if err != nil || sh.Version != 1 {
			t.Fatalf("Hash = %v, %v", sh, err)
		}
		return sh
	}
	if !verify(h1, a, hash(h1, a)) {
		t.Fatal("secret does not verify against its own hash")
	}
	if verify(h1, b, hash(h1, a)) {
		t.Fatal("another secret verifies")
	}
	if verify(h2, a, hash(h1, a)) {
		t.Fatal("a hash made with another key verifies")
	}
	if verify(h1, a, SecretHash{Version: 1}) || verify(h1, a, SecretHash{Version: 1, Sum: hash(h1, a).Sum[:31]}) {
		t.Fatal("empty or truncated hash verifies")
	}
	if _, err := NewHasher(k1[:31]); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestSealer(t *testing.T) {
	s, err := NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	const plain = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	ctx := context.Background()
	sealed, err := s.Seal(ctx, plain, "tok1/telegram/botToken")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, plain) || strings.Contains(sealed, "AAHdq") {
		t.Fatal("ciphertext holds the plaintext")
	}
	got, err := s.Open(ctx, sealed, "tok1/telegram/botToken")
	if err != nil || got != plain {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(ctx, sealed, "tok2/telegram/botToken"); err == nil {
		t.Fatal("ciphertext opened under another token's additional data")
	}
	b := []byte(sealed)
	b[len(b)-2] ^= 1
	if _, err := s.Open(ctx, string(b), "tok1/telegram/botToken"); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(ctx, sealed, "tok1/telegram/botToken"); err == nil {
		t.Fatal("opened with another key")
	}
	for _, bad := range []string{"", "v1:", "v1:!!", plain, "v2:" + sealed[3:]} {
		if _, err := s.Open(ctx, bad, "x"); err == nil {
			t.Fatalf("Open(%q) accepted", bad)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := t.TempDir() + "/keys.json"
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	active := func(r KeyRing) []byte { _, k := r.ActiveKey(); return k }
	if !bytes.Equal(active(k1.Hash), active(k2.Hash)) || !bytes.Equal(active(k1.Encryption), active(k2.Encryption)) {
		t.Fatal("keys changed across loads")
	}
	if !bytes.Equal(active(k1.RefreshToken), active(k2.RefreshToken)) || len(active(k1.RefreshToken)) != 32 {
		t.Fatal("refresh-token key missing or changed across loads")
	}
	if bytes.Equal(active(k1.Hash), active(k1.Encryption)) || bytes.Equal(active(k1.Hash), active(k1.RefreshToken)) {
		t.Fatal("two keys are the same")
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func FuzzParseClientSecret(f *testing.F) {
	s, _ := NewClientSecret()
	f.Add(s.Reveal())
	f.Add(SecretPrefix)
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseClientSecret(in)
		if err != nil {
			return
		}
		if got.Reveal() != in || len(in) != SecretLen {
			t.Fatalf("accepted %q as %q", in, got.Reveal())
		}
	})
}

func BenchmarkHashAndVerify(b *testing.B) {
	h, _ := NewHasher(bytes.Repeat([]byte{1}, 32))
	s, _ := NewClientSecret()
	ctx := context.Background()
	want, _ := h.Hash(ctx, s)
	raw := s.Reveal()
	b.ReportAllocs()
	for b.Loop() {
		p, err := ParseClientSecret(raw)
		if ok, verr := h.Verify(ctx, p, want); err != nil || verr != nil || !ok {
			b.Fatal("verify failed")
		}
	}
}
