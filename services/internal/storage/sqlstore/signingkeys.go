package sqlstore

import (
	"database/sql"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// SigningKeyColumns are the columns of the signing_keys table, in the order
// of scanSigningKey and signingKeyArgs.
const SigningKeyColumns = `id, algorithm, sealed, create_time, activate_time, retire_time, revoke_time`

// Statements on signing keys and leases.
const (
	// SigningKeysVersionSQL reads the version of the set; a backend that
	// locks rows appends FOR UPDATE to lock the set.
	SigningKeysVersionSQL = `SELECT version FROM signing_key_set WHERE id = 1`
	listSigningKeysSQL    = `SELECT ` + SigningKeyColumns + ` FROM signing_keys ORDER BY id`
	deleteSigningKeysSQL  = `DELETE FROM signing_keys`
	insertSigningKeySQL   = `INSERT INTO signing_keys (` + SigningKeyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	bumpSigningKeysSQL    = `UPDATE signing_key_set SET version = version + 1 WHERE id = 1`
	revokedSigningKeysSQL = `SELECT ` + SigningKeyColumns + ` FROM signing_keys
		WHERE revoke_time IS NOT NULL AND revoke_time >= $1`

	// acquireLeaseSQL takes a lease ($1) for a holder ($2) until $3 if it
	// is free, lapsed at $4, or the holder's already; it returns a row
	// only when the holder holds it afterwards. One statement, so two
	// takers never both win: the row's uniqueness decides.
	acquireLeaseSQL = `INSERT INTO leases (name, holder, expire_time) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expire_time = excluded.expire_time
		WHERE leases.holder = excluded.holder OR leases.expire_time <= $4
		RETURNING holder`
	// ReleaseLeaseSQL gives a lease ($1) up if the holder ($2) holds it.
	ReleaseLeaseSQL = `DELETE FROM leases WHERE name = $1 AND holder = $2`
)

// SigningKeysVersion returns the version of the signing-key set through q;
// stmt is SigningKeysVersionSQL, with FOR UPDATE to lock the set.
func SigningKeysVersion(q Query, stmt string) (int64, error) {
	versions, err := queryAll(q, func(row Scanner) (int64, error) {
		var v int64
		err := row.Scan(&v)
		return v, err
	}, stmt)
	if err != nil {
		return 0, err
	}
	if len(versions) != 1 {
		return 0, fmt.Errorf("signing_key_set holds %d rows, want 1 (is migration 0008 applied?)", len(versions))
	}
	return versions[0], nil
}

// ListSigningKeys returns the version and the keys through q, which runs
// both queries in one transaction for one snapshot; versionSQL as for
// SigningKeysVersion.
func ListSigningKeys(q Query, versionSQL string) (storage.SigningKeySet, error) {
	v, err := SigningKeysVersion(q, versionSQL)
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("version: %w", err)
	}
	keys, err := queryAll(q, scanSigningKey, listSigningKeysSQL)
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("keys: %w", err)
	}
	return storage.SigningKeySet{Version: v, Keys: keys}, nil
}

// UpdateSigningKeys runs the read-modify-write of
// storage.SigningKeyStore.UpdateSigningKeys within the caller's
// transaction: lockSQL (SigningKeysVersionSQL, FOR UPDATE where the
// backend locks rows) reads the version, update sees the set, and a
// non-nil answer replaces the keys and increments the version. An error
// of update comes back wrapped in an *UpdateError.
func UpdateSigningKeys(q Query, exec Exec, lockSQL string, update func(storage.SigningKeySet) ([]chave.SigningKey, error)) (storage.SigningKeySet, error) {
	cur, err := ListSigningKeys(q, lockSQL)
	if err != nil {
		return storage.SigningKeySet{}, err
	}
	next, err := update(cur)
	if err != nil {
		return storage.SigningKeySet{}, &UpdateError{err}
	}
	if next == nil {
		return cur, nil
	}
	if err := exec(deleteSigningKeysSQL); err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("delete keys: %w", err)
	}
	for _, k := range next {
		if k.ID == "" || len(k.Sealed) == 0 || k.CreateTime.IsZero() || k.ActivateTime.IsZero() {
			return storage.SigningKeySet{}, &UpdateError{chave.InvalidField("signingKey",
				"a signing key needs an id, its sealed key, a create and an activate time (key %q)", k.ID)}
		}
		if err := exec(insertSigningKeySQL, signingKeyArgs(k)...); err != nil {
			return storage.SigningKeySet{}, fmt.Errorf("insert key %s: %w", k.ID, err)
		}
	}
	if err := exec(bumpSigningKeysSQL); err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("bump version: %w", err)
	}
	return ListSigningKeys(q, SigningKeysVersionSQL)
}

// UpdateError carries the error of a caller's update closure out of the
// backend's transaction, to be returned unchanged.
type UpdateError struct{ Err error }

func (e *UpdateError) Error() string { return e.Err.Error() }

// AcquireLease runs acquireLeaseSQL through q and reports whether holder
// holds the lease afterwards.
func AcquireLease(q Query, name, holder string, now, expire time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, chave.InvalidField("lease", "a lease needs a name and a holder")
	}
	if !expire.After(now) {
		return false, chave.InvalidField("lease", "the expiry %s is not after now %s", expire, now)
	}
	rows, err := queryAll(q, func(row Scanner) (string, error) {
		var h string
		err := row.Scan(&h)
		return h, err
	}, acquireLeaseSQL, name, holder, expire.UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, err
	}
	return len(rows) == 1 && rows[0] == holder, nil
}

func listRevokedSigningKeys(q Query, since time.Time) ([]chave.SigningKey, error) {
	return queryAll(q, scanSigningKey, revokedSigningKeysSQL, since.UnixMicro())
}

func scanSigningKey(row Scanner) (chave.SigningKey, error) {
	var (
		k                                chave.SigningKey
		created, activates, retired, rev sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Algorithm, &k.Sealed, &created, &activates, &retired, &rev); err != nil {
		return chave.SigningKey{}, err
	}
	k.CreateTime, k.ActivateTime = decodeTime(created), decodeTime(activates)
	k.RetireTime, k.RevokeTime = decodeTime(retired), decodeTime(rev)
	return k, nil
}

func signingKeyArgs(k chave.SigningKey) []any {
	return []any{k.ID, k.Algorithm, k.Sealed, encodeTime(k.CreateTime), encodeTime(k.ActivateTime),
		encodeTime(k.RetireTime), encodeTime(k.RevokeTime)}
}
