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
	Hash         []byte // HMAC key for client secrets
	Encryption   []byte // AES-256 key for secret parameters
	RefreshToken []byte // HMAC key that authenticates refresh tokens
}

type keyFile struct {
	HashKey         string `json:"hashKey"`
	EncryptionKey   string `json:"encryptionKey"`
	RefreshTokenKey string `json:"refreshTokenKey,omitempty"`
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
	if f.RefreshTokenKey == "" {
		// A file from before refresh tokens: add the key, keep the others.
		if k.RefreshToken, err = randomKey(); err != nil {
			return Keys{}, err
		}
		return k, writeKeyFile(path, k)
	}
	if k.RefreshToken, err = DecodeKey(f.RefreshTokenKey); err != nil || len(k.RefreshToken) < MinKeyLen {
		return Keys{}, fmt.Errorf("key file %s: refreshTokenKey must be base64 of at least %d bytes", path, MinKeyLen)
	}
	return k, nil
}

func createKeyFile(path string) (Keys, error) {
	var k Keys
	var err error
	for _, key := range []*[]byte{&k.Hash, &k.Encryption, &k.RefreshToken} {
		if *key, err = randomKey(); err != nil {
			return Keys{}, err
		}
	}
	return k, writeKeyFile(path, k)
}

func randomKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

func writeKeyFile(path string, k Keys) error {
	data, err := json.MarshalIndent(keyFile{
		HashKey:         base64.StdEncoding.EncodeToString(k.Hash),
		EncryptionKey:   base64.StdEncoding.EncodeToString(k.Encryption),
		RefreshTokenKey: base64.StdEncoding.EncodeToString(k.RefreshToken),
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
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
