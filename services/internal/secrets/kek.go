package secrets

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// KEKSize is the size in bytes of the key-encryption key, an AES-256 key.
const KEKSize = 32

// kekMember is the secrets file's member that holds the key-encryption key.
const kekMember = "keyEncryptionKey"

// KEKSource says where LoadKEK looks for the key-encryption key, which
// seals the signing keys kept in the database.
type KEKSource struct {
	// Env is the value of CHAVE_KEY_ENCRYPTION_KEY: base64 of KEKSize
	// bytes. It wins when set.
	Env string
	// SecretsFile is the secrets file, whose keyEncryptionKey member is
	// read when Env is empty.
	SecretsFile string
	// Create generates the key and adds it to SecretsFile (created if need
	// be, mode 0600, its other members kept) when the file holds none: the
	// embedded default, which keeps its keys beside the database.
	Create bool
}

// LoadKEK returns the key-encryption key from src: the environment, else
// the secrets file, else (src.Create) a new key kept in the secrets file.
// Without any, it is an error that names both places.
func LoadKEK(src KEKSource) ([]byte, error) {
	if src.Env != "" {
		k, err := DecodeKey(src.Env)
		if err != nil || len(k) != KEKSize {
			return nil, fmt.Errorf("CHAVE_KEY_ENCRYPTION_KEY must be base64 of %d bytes", KEKSize)
		}
		return k, nil
	}
	if src.SecretsFile == "" {
		return nil, errors.New("the key-encryption key is required: set CHAVE_KEY_ENCRYPTION_KEY or keyEncryptionKey in the secrets file")
	}
	members := map[string]json.RawMessage{}
	data, err := os.ReadFile(src.SecretsFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read secrets file: %w", err)
	default:
		if err := json.Unmarshal(data, &members); err != nil {
			return nil, fmt.Errorf("parse secrets file %s: %w", src.SecretsFile, err)
		}
	}
	if raw, ok := members[kekMember]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("secrets file %s: %s must be a string", src.SecretsFile, kekMember)
		}
		k, err := DecodeKey(s)
		if err != nil || len(k) != KEKSize {
			return nil, fmt.Errorf("secrets file %s: %s must be base64 of %d bytes", src.SecretsFile, kekMember, KEKSize)
		}
		return k, nil
	}
	if !src.Create {
		return nil, fmt.Errorf("the key-encryption key is required: set CHAVE_KEY_ENCRYPTION_KEY or %s in %s", kekMember, src.SecretsFile)
	}
	k, err := randomKey()
	if err != nil {
		return nil, err
	}
	enc, err := json.Marshal(base64.StdEncoding.EncodeToString(k))
	if err != nil {
		return nil, err
	}
	members[kekMember] = enc
	out, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(src.SecretsFile, out, 0o600); err != nil {
		return nil, fmt.Errorf("write secrets file: %w", err)
	}
	return k, nil
}
