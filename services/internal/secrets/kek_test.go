package secrets

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewLoadKEK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.json")
	keys, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKEK(KEKSource{SecretsFile: path}); err == nil || !strings.Contains(err.Error(), "CHAVE_KEY_ENCRYPTION_KEY") {
		t.Fatalf("no key and no Create: %v, want an error naming CHAVE_KEY_ENCRYPTION_KEY", err)
	}
	k, err := LoadKEK(KEKSource{SecretsFile: path, Create: true})
	if err != nil || len(k) != KEKSize {
		t.Fatalf("Create: %d bytes, %v", len(k), err)
	}
	again, err := LoadKEK(KEKSource{SecretsFile: path})
	if err != nil || !bytes.Equal(again, k) {
		t.Fatalf("the kept key reads back %x, %v; want %x", again, err, k)
	}
	// The other keys are kept.
	got, err := LoadOrCreateKeyFile(path)
	_, hash := got.Hash.ActiveKey()
	_, wantHash := keys.Hash.ActiveKey()
	_, refresh := got.RefreshToken.ActiveKey()
	_, wantRefresh := keys.RefreshToken.ActiveKey()
	if err != nil || !bytes.Equal(hash, wantHash) || !bytes.Equal(refresh, wantRefresh) {
		t.Fatalf("the secrets file lost its keys: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode %v, %v; want 0600", fi.Mode(), err)
	}
	// The environment wins; a bad value is refused by name.
	env := bytes.Repeat([]byte{7}, KEKSize)
	if got, err := LoadKEK(KEKSource{Env: base64.StdEncoding.EncodeToString(env), SecretsFile: path}); err != nil || !bytes.Equal(got, env) {
		t.Fatalf("from the environment: %x, %v", got, err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := LoadKEK(KEKSource{Env: bad}); err == nil || !strings.Contains(err.Error(), "CHAVE_KEY_ENCRYPTION_KEY") {
			t.Errorf("env %q: %v, want an error naming CHAVE_KEY_ENCRYPTION_KEY", bad, err)
		}
	}
	if err := os.WriteFile(path, []byte(`{"keyEncryptionKey": "c2hvcnQ="}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKEK(KEKSource{SecretsFile: path, Create: true}); err == nil || !strings.Contains(err.Error(), "keyEncryptionKey") {
		t.Errorf("a short key in the file: %v, want an error naming keyEncryptionKey", err)
	}
}
