package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Keys are the server keys that protect credentials at rest.
type Keys struct {
	Hash       []byte // HMAC key for client secrets
	Encryption []byte // AES-256 key for secret parameters
}

type keyFile struct {
	HashKey       string `json:"hashKey"`
	EncryptionKey string `json:"encryptionKey"`
}

// DecodeKey decodes a base64 (standard or URL, padded or not) key.
func DecodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// LoadOrCreateKeyFile reads the keys from path, or generates fresh ones and
// writes them there (mode 0600) when the file does not exist. The embedded
// default keeps its keys beside the database, never inside it.
func LoadOrCreateKeyFile(path string) (Keys, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path)
	}
	if err != nil {
		return Keys{}, fmt.Errorf("read key file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Keys{}, fmt.Errorf("parse key file %s: %w", path, err)
	}
	var k Keys
	if k.Hash, err = DecodeKey(f.HashKey); err != nil || len(k.Hash) < MinKeyLen {
		return Keys{}, fmt.Errorf("key file %s: hashKey must be base64 of at least %d bytes", path, MinKeyLen)
	}
	if k.Encryption, err = DecodeKey(f.EncryptionKey); err != nil || len(k.Encryption) != 32 {
		return Keys{}, fmt.Errorf("key file %s: encryptionKey must be base64 of 32 bytes", path)
	}
	return k, nil
}

func createKeyFile(path string) (Keys, error) {
	k := Keys{Hash: make([]byte, 32), Encryption: make([]byte, 32)}
	if _, err := rand.Read(k.Hash); err != nil {
		return Keys{}, fmt.Errorf("generate keys: %w", err)
	}
	if _, err := rand.Read(k.Encryption); err != nil {
		return Keys{}, fmt.Errorf("generate keys: %w", err)
	}
	data, err := json.MarshalIndent(keyFile{
		HashKey:       base64.StdEncoding.EncodeToString(k.Hash),
		EncryptionKey: base64.StdEncoding.EncodeToString(k.Encryption),
	}, "", "  ")
	if err != nil {
		return Keys{}, err
	}
	if err := WriteFileAtomic(path, data, 0o600); err != nil {
		return Keys{}, fmt.Errorf("write key file: %w", err)
	}
	return k, nil
}

// WriteFileAtomic writes data to a temporary file in path's directory and
// renames it over path, so readers never see a partial file.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
