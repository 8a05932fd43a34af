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
	"time"

	"github.com/chave/chave/services/internal/filelock"
)

// The secrets file holds every version of each server key:
//
//	{"hmac":    {"active": 2, "versions": [{"version": 1, "key": "…", …}, …]},
//	 "seal":    {…}, "refresh": {…}}
//
// A file from before key versions ({"hashKey", "encryptionKey",
// "refreshTokenKey"}: one key of each) still loads, each key as version 1,
// and is written in that form again as long as every key has that one
// version, so that an older binary still reads it.
type keyFile struct {
	HashKey         string `json:"hashKey,omitempty"`
	EncryptionKey   string `json:"encryptionKey,omitempty"`
	RefreshTokenKey string `json:"refreshTokenKey,omitempty"`

	HMAC    *ringFile `json:"hmac,omitempty"`
	Seal    *ringFile `json:"seal,omitempty"`
	Refresh *ringFile `json:"refresh,omitempty"`
}

type ringFile struct {
	Active   int           `json:"active"`
	Versions []versionFile `json:"versions"`
}

type versionFile struct {
	Version        int        `json:"version"`
	Key            string     `json:"key,omitempty"` // empty once retired
	CreateTime     *time.Time `json:"createTime,omitempty"`
	ActivateTime   *time.Time `json:"activateTime,omitempty"`
	DeactivateTime *time.Time `json:"deactivateTime,omitempty"`
	RetireTime     *time.Time `json:"retireTime,omitempty"`
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
	k, err := ReadKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createKeyFile(path)
	}
	if errors.Is(err, errNoServerKeys) {
		// A file holding only other members (the key-encryption key):
		// add the server keys, keep the rest.
		return createKeyFile(path)
	}
	if errors.Is(err, errNoRefreshKey) {
		// A file from before refresh tokens: add the key, keep the others.
		key, err := randomKey()
		if err != nil {
			return Keys{}, err
		}
		k.RefreshToken = SingleVersion(key)
		return k, writeKeyFile(path, k)
	}
	return k, err
}

// errNoRefreshKey: the file predates refresh tokens (the other keys are
// returned with it).
var errNoRefreshKey = errors.New("no refresh-token key")

// errNoServerKeys: the file holds none of the server keys.
var errNoServerKeys = errors.New("no server keys")

// ReadKeyFile reads and checks the keys at path.
func ReadKeyFile(path string) (Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Keys{}, fmt.Errorf("read key file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Keys{}, fmt.Errorf("parse key file %s: %w", path, err)
	}
	if f.HashKey == "" && f.EncryptionKey == "" && f.RefreshTokenKey == "" && f.HMAC == nil && f.Seal == nil && f.Refresh == nil {
		return Keys{}, fmt.Errorf("key file %s: %w", path, errNoServerKeys)
	}
	var k Keys
	for _, r := range []struct {
		kind   Kind
		legacy string
		name   string
		rf     *ringFile
	}{
		{KindHMAC, f.HashKey, "hashKey", f.HMAC},
		{KindSeal, f.EncryptionKey, "encryptionKey", f.Seal},
		{KindRefresh, f.RefreshTokenKey, "refreshTokenKey", f.Refresh},
	} {
		ring := k.Ring(r.kind)
		switch {
		case r.rf != nil:
			if *ring, err = r.rf.decode(r.kind); err != nil {
				return Keys{}, fmt.Errorf("key file %s: %w", path, err)
			}
		case r.legacy != "":
			key, err := DecodeKey(r.legacy)
			if err == nil {
				err = r.kind.checkKey(key)
			}
			if err != nil {
				return Keys{}, fmt.Errorf("key file %s: %s must be base64: %v", path, r.name, err)
			}
			*ring = SingleVersion(key)
		case r.kind == KindRefresh:
			return k, errNoRefreshKey
		default:
			return Keys{}, fmt.Errorf("key file %s: no %s key (%s)", path, r.kind, r.name)
		}
	}
	return k, nil
}

func (rf *ringFile) decode(kind Kind) (KeyRing, error) {
	r := KeyRing{Active: rf.Active}
	for _, vf := range rf.Versions {
		v := KeyVersion{Version: vf.Version, CreateTime: fromFileTime(vf.CreateTime), ActivateTime: fromFileTime(vf.ActivateTime),
			DeactivateTime: fromFileTime(vf.DeactivateTime), RetireTime: fromFileTime(vf.RetireTime)}
		if vf.Key != "" {
			key, err := DecodeKey(vf.Key)
			if err != nil {
				return KeyRing{}, fmt.Errorf("%s version %d: key is not base64", kind, vf.Version)
			}
			v.Key = key
		}
		r.Versions = append(r.Versions, v)
	}
	return r, r.Validate(kind)
}

func encodeRing(r KeyRing) *ringFile {
	rf := &ringFile{Active: r.Active}
	for _, v := range r.Versions {
		vf := versionFile{Version: v.Version, CreateTime: toFileTime(v.CreateTime), ActivateTime: toFileTime(v.ActivateTime),
			DeactivateTime: toFileTime(v.DeactivateTime), RetireTime: toFileTime(v.RetireTime)}
		if !v.Retired() {
			vf.Key = base64.StdEncoding.EncodeToString(v.Key)
		}
		rf.Versions = append(rf.Versions, vf)
	}
	return rf
}

func toFileTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func fromFileTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// legacyKey returns the one key of a ring that holds only version 1,
// active, with no history: what the file format before versions can say.
func legacyKey(r KeyRing) ([]byte, bool) {
	if len(r.Versions) != 1 || r.Active != 1 {
		return nil, false
	}
	v := r.Versions[0]
	if v.Version != 1 || v.Retired() || !v.CreateTime.IsZero() || !v.ActivateTime.IsZero() {
		return nil, false
	}
	return v.Key, true
}

func createKeyFile(path string) (Keys, error) {
	var k Keys
	for _, kind := range Kinds {
		key, err := randomKey()
		if err != nil {
			return Keys{}, err
		}
		*k.Ring(kind) = SingleVersion(key)
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

// WriteKeyFile checks the keys and writes them to path (mode 0600),
// atomically.
func WriteKeyFile(path string, k Keys) error {
	if err := k.Validate(); err != nil {
		return err
	}
	return writeKeyFile(path, k)
}

func writeKeyFile(path string, k Keys) error {
	var f keyFile
	h, hok := legacyKey(k.Hash)
	e, eok := legacyKey(k.Encryption)
	r, rok := legacyKey(k.RefreshToken)
	if hok && eok && rok {
		f = keyFile{HashKey: base64.StdEncoding.EncodeToString(h), EncryptionKey: base64.StdEncoding.EncodeToString(e),
			RefreshTokenKey: base64.StdEncoding.EncodeToString(r)}
	} else {
		f = keyFile{HMAC: encodeRing(k.Hash), Seal: encodeRing(k.Encryption), Refresh: encodeRing(k.RefreshToken)}
	}
	// Members of others (the key-encryption key) stay as they are.
	members := map[string]json.RawMessage{}
	switch old, err := os.ReadFile(path); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read key file: %w", err)
	default:
		if err := json.Unmarshal(old, &members); err != nil {
			return fmt.Errorf("parse key file %s: %w", path, err)
		}
	}
	for _, name := range []string{"hashKey", "encryptionKey", "refreshTokenKey", "hmac", "seal", "refresh"} {
		delete(members, name)
	}
	ours, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(ours, &members); err != nil {
		return err
	}
	data, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

// UpdateKeyFile reads the keys at path, applies update and writes the
// result, holding an exclusive lock on path + ".lock" throughout, so that
// two operators' changes never lose one another.
func UpdateKeyFile(path string, update func(*Keys) error) (Keys, error) {
	unlock, err := filelock.Lock(path)
	if err != nil {
		return Keys{}, err
	}
	defer unlock()
	k, err := ReadKeyFile(path)
	if err != nil {
		return Keys{}, err
	}
	if err := update(&k); err != nil {
		return Keys{}, err
	}
	return k, WriteKeyFile(path, k)
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
