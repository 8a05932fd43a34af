package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/storage"
)

// signingKeyColumns are the columns of the signing_keys table, in the order
// of scanSigningKey and signingKeyArgs.
const signingKeyColumns = `id, algorithm, sealed, create_time, activate_time, retire_time, revoke_time`

// Statements on signing keys and leases.
const (
	// signingKeysVersionSQL reads the version of the set; Flavor.ForUpdate
	// after it locks the set.
	signingKeysVersionSQL = `SELECT version FROM signing_key_set WHERE id = 1`
	listSigningKeysSQL    = `SELECT ` + signingKeyColumns + ` FROM signing_keys ORDER BY id`
	deleteSigningKeysSQL  = `DELETE FROM signing_keys`
	insertSigningKeySQL   = `INSERT INTO signing_keys (` + signingKeyColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	bumpSigningKeysSQL    = `UPDATE signing_key_set SET version = version + 1 WHERE id = 1`
	revokedSigningKeysSQL = `SELECT ` + signingKeyColumns + ` FROM signing_keys
		WHERE revoke_time IS NOT NULL AND revoke_time >= $1`

	// acquireLeaseSQL takes a lease ($1) for a holder ($2) until $3 if it
	// is free, lapsed at $4, or the holder's already; it returns a row
	// only when the holder holds it afterwards. One statement, so two
	// takers never both win: the row's uniqueness decides.
	acquireLeaseSQL = `INSERT INTO leases (name, holder, expire_time) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expire_time = excluded.expire_time
		WHERE leases.holder = excluded.holder OR leases.expire_time <= $4
		RETURNING holder`
	// releaseLeaseSQL gives a lease ($1) up if the holder ($2) holds it.
	releaseLeaseSQL = `DELETE FROM leases WHERE name = $1 AND holder = $2`
)

// signingKeysVersion returns the version of the signing-key set through
// q; stmt is signingKeysVersionSQL, with FOR UPDATE to lock the set.
func signingKeysVersion(q Query, stmt string) (int64, error) {
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

// listSigningKeys returns the version and the keys through q, which runs
// both queries in one transaction for one snapshot; versionSQL as for
// signingKeysVersion.
func listSigningKeys(q Query, versionSQL string) (storage.SigningKeySet, error) {
	v, err := signingKeysVersion(q, versionSQL)
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("version: %w", err)
	}
	keys, err := queryAll(q, scanSigningKey, listSigningKeysSQL)
	if err != nil {
		return storage.SigningKeySet{}, fmt.Errorf("keys: %w", err)
	}
	return storage.SigningKeySet{Version: v, Keys: keys}, nil
}

// ListSigningKeys returns the signing keys and the set's version, read in
// one snapshot transaction (Flavor.SnapshotTx) on the read pool.
func (s *Store) ListSigningKeys(ctx context.Context) (storage.SigningKeySet, error) {
	tx, err := s.read.BeginTx(ctx, &s.flavor.SnapshotTx)
	if err != nil {
		return storage.SigningKeySet{}, s.fail(err, "list signing keys: begin")
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to commit
	out, err := listSigningKeys(queryOn(ctx, tx), signingKeysVersionSQL)
	if err != nil {
		return storage.SigningKeySet{}, s.fail(err, "list signing keys")
	}
	return out, nil
}

// SigningKeysVersion returns the version of the signing-key set: one row,
// what every replica polls.
func (s *Store) SigningKeysVersion(ctx context.Context) (int64, error) {
	v, err := signingKeysVersion(queryOn(ctx, s.read), signingKeysVersionSQL)
	if err != nil {
		return 0, s.fail(err, "signing keys version")
	}
	return v, nil
}

// UpdateSigningKeys reads the set in a write transaction that locks its
// version row (Flavor.ForUpdate; SQLite's write transaction holds the
// lock already), so that concurrent updates queue up; a non-nil answer of
// update replaces the keys and increments the version.
func (s *Store) UpdateSigningKeys(ctx context.Context, update func(storage.SigningKeySet) ([]chave.SigningKey, error)) (storage.SigningKeySet, error) {
	var out storage.SigningKeySet
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q, exec := queryOn(ctx, tx), execOn(ctx, tx)
		cur, err := listSigningKeys(q, signingKeysVersionSQL+s.flavor.ForUpdate)
		if err != nil {
			return err
		}
		next, err := update(cur)
		if err != nil {
			return &closureError{err}
		}
		if next == nil {
			out = cur
			return nil
		}
		if err := exec(deleteSigningKeysSQL); err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
		for _, k := range next {
			if k.ID == "" || len(k.Sealed) == 0 || k.CreateTime.IsZero() || k.ActivateTime.IsZero() {
				return &closureError{chave.InvalidField("signingKey",
					"a signing key needs an id, its sealed key, a create and an activate time (key %q)", k.ID)}
			}
			if err := exec(insertSigningKeySQL, signingKeyArgs(k)...); err != nil {
				return fmt.Errorf("insert key %s: %w", k.ID, s.conflict(err, "signing key", k.ID))
			}
		}
		if err := exec(bumpSigningKeysSQL); err != nil {
			return fmt.Errorf("bump version: %w", err)
		}
		out, err = listSigningKeys(q, signingKeysVersionSQL)
		return err
	})
	if err != nil {
		return storage.SigningKeySet{}, s.fail(err, "update signing keys")
	}
	return out, nil
}

// AcquireLease takes or renews the lease in one statement (acquireLeaseSQL)
// on the write pool, with the retries of inTx.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now, expire time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, chave.InvalidField("lease", "a lease needs a name and a holder")
	}
	if !expire.After(now) {
		return false, chave.InvalidField("lease", "the expiry %s is not after now %s", expire, now)
	}
	var held bool
	err := s.retry(ctx, func() error {
		rows, err := queryAll(queryOn(ctx, s.write), func(row Scanner) (string, error) {
			var h string
			err := row.Scan(&h)
			return h, err
		}, acquireLeaseSQL, name, holder, expire.UnixMicro(), now.UnixMicro())
		held = len(rows) == 1 && rows[0] == holder
		return err
	})
	if err != nil {
		return false, s.fail(err, "acquire lease %s", name)
	}
	return held, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.exec(ctx, releaseLeaseSQL, name, holder); err != nil {
		return s.fail(err, "release lease %s", name)
	}
	return nil
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
