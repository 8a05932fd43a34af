// The server keys' versions as the registry sees them: secrets re-hashed
// under the active hashing key on their next use, parameters re-sealed
// under the active sealing key (RewrapParameters), and what each version
// still protects (KeyUsage), which decides whether it may be retired.

package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
	"github.com/chave/chave/services/internal/storage"
)

// KeysActor is the actor of the audit events that server-key maintenance
// writes (a re-hash, a re-seal).
const KeysActor = "chave-server-keys"

func hashVersion(t chave.Token) int { return max(t.SecretHashVersion, 1) }

// rehash stores the secret's hash under the active hashing key version
// when t's was made under another: once per credential, the first time its
// secret is used after a rotation, never again once done. The secret
// version (what tokens and revocation entries name) stays, frozen at the
// first re-hash. A failure is logged; the next use tries again. It reports
// whether t's hash is not (or soon no longer) what the database holds, so
// that the credential cache does not keep t: it is under another version
// than the active one.
func (s *Service) rehash(ctx context.Context, t chave.Token, secret secrets.ClientSecret) (stale bool) {
	active, err := s.hasher.ActiveVersion(ctx)
	if err != nil || active == hashVersion(t) {
		return false
	}
	s.mu.Lock()
	busy := s.rehashing[t.ID]
	s.rehashing[t.ID] = true
	s.mu.Unlock()
	if busy {
		return true
	}
	defer func() {
		s.mu.Lock()
		delete(s.rehashing, t.ID)
		s.mu.Unlock()
	}()
	h, err := s.hasher.Hash(ctx, secret)
	if err != nil || h.Version == hashVersion(t) {
		return true
	}
	frozen := secretVersionOf(t)
	updated, err := s.store.UpdateToken(ctx, t.ID, func(cur *chave.Token) (chave.Event, error) {
		if !bytes.Equal(cur.SecretHash, t.SecretHash) || hashVersion(*cur) != hashVersion(t) {
			// Rotated, or re-hashed by another replica, since it was read.
			return chave.Event{}, errUnchanged
		}
		cur.SecretHash, cur.SecretHashVersion, cur.SecretVersion = h.Sum, h.Version, frozen
		return chave.Event{TokenID: t.ID, Time: s.clock(), Actor: KeysActor, Action: chave.ActionRehash}, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
	case err != nil:
		s.log.WarnContext(ctx, "re-hashing a client secret under the active server key failed", "token", t.ID, "err", err)
	default:
		s.metrics.rehashed.Inc()
		s.log.InfoContext(ctx, "client secret re-hashed under the active server key", "token", t.ID, "from", hashVersion(t), "to", h.Version)
		// Other replicas' cached copies still hold the old hash: they would
		// try this again on every grant. The entry sends them to the
		// database once.
		if err := s.propagateChanges(ctx, s.changedToken(updated)); err != nil {
			s.log.WarnContext(ctx, "re-hash not announced to other replicas' credential caches", "token", t.ID, "err", err)
		}
	}
	return true
}

// tokenBySecret finds the credential of a secret by its hash under each
// hashing key version held, the active one first: one indexed read per
// version.
func (s *Service) tokenBySecret(ctx context.Context, secret secrets.ClientSecret) (chave.Token, bool, error) {
	cands, err := s.hasher.Candidates(ctx, secret)
	if err != nil {
		return chave.Token{}, false, err
	}
	for _, c := range cands {
		t, err := s.store.GetTokenBySecretHash(ctx, c.Sum)
		if chave.IsCode(err, chave.NotFound) {
			continue
		}
		if err != nil {
			return chave.Token{}, false, err
		}
		if hashVersion(t) == c.Version && bytes.Equal(t.SecretHash, c.Sum) {
			return t, true, nil
		}
		// The secret a rotation replaced, while its grace period lasts.
		if max(t.PreviousSecretHashVersion, 1) == c.Version && bytes.Equal(t.PreviousSecretHash, c.Sum) && t.PreviousSecretPending(s.clock()) {
			return t, true, nil
		}
	}
	return chave.Token{}, false, nil
}

// KeyUsage is what each server key version still protects.
type KeyUsage struct {
	// Credentials counts the live credentials (neither revoked nor
	// expired) by the hashing key version of their secret's hash.
	Credentials map[int]int
	// Parameters counts the sealed parameter values of every credential,
	// live or not, by the sealing key version that sealed them.
	Parameters map[int]int
}

// KeyUsage reads every credential, a page at a time, and counts what each
// server key version protects.
func (s *Service) KeyUsage(ctx context.Context) (KeyUsage, error) {
	u := KeyUsage{Credentials: map[int]int{}, Parameters: map[int]int{}}
	now := s.clock()
	err := s.eachToken(ctx, MaxPageSize, func(t chave.Token) error {
		if t.State(now) == chave.StateActive && len(t.SecretHash) > 0 {
			u.Credentials[hashVersion(t)]++
		}
		for v, n := range s.sealedVersions(t) {
			u.Parameters[v] += n
		}
		return nil
	})
	return u, err
}

// sealedVersions counts t's sealed parameter values by key version.
func (s *Service) sealedVersions(t chave.Token) map[int]int {
	out := map[int]int{}
	for ctxID, values := range t.Parameters {
		for name, v := range values {
			if !s.isSecret(ctxID, name) {
				continue
			}
			if ver, ok := secrets.SealedVersion(v); ok {
				out[ver]++
			}
		}
	}
	return out
}

// eachToken calls fn on every token, newest first, reading pages of size
// batch.
func (s *Service) eachToken(ctx context.Context, batch int, fn func(chave.Token) error) error {
	var after *storage.Cursor
	for {
		page, err := s.store.ListTokens(ctx, storage.TokenFilter{Now: s.clock(), Limit: batch, After: after})
		if err != nil {
			return fmt.Errorf("list tokens: %w", err)
		}
		for _, t := range page.Tokens {
			if err := fn(t); err != nil {
				return err
			}
		}
		if !page.More || len(page.Tokens) == 0 {
			return nil
		}
		last := page.Tokens[len(page.Tokens)-1]
		after = &storage.Cursor{CreateTime: last.CreateTime, ID: last.ID}
	}
}

// RewrapResult counts what RewrapParameters did.
type RewrapResult struct {
	Scanned   int      // credentials read
	Rewrapped int      // credentials whose parameters were re-sealed
	Values    int      // parameter values re-sealed
	Failed    []string // credentials with a value that would not open
}

// RewrapParameters re-seals every secret parameter value sealed under a
// version other than the active one, reading credentials batch at a time
// and re-sealing each credential in its own transaction (so it runs while
// the registry serves, and concurrent updates of a credential are never
// lost). Running it again finds nothing to do. A value that fails to open
// is left as it is and its credential reported in Failed. progress, when
// not nil, is told the counts after each batch.
func (s *Service) RewrapParameters(ctx context.Context, batch int, progress func(RewrapResult)) (RewrapResult, error) {
	if batch <= 0 || batch > MaxPageSize {
		return RewrapResult{}, chave.InvalidField("batch", "must be between 1 and %d", MaxPageSize)
	}
	var res RewrapResult
	seen := 0
	err := s.eachToken(ctx, batch, func(t chave.Token) error {
		res.Scanned++
		if err := s.rewrap(ctx, t, &res); err != nil {
			return err
		}
		if seen++; seen%batch == 0 && progress != nil {
			progress(res)
		}
		return nil
	})
	if err == nil && progress != nil && seen%batch != 0 {
		progress(res)
	}
	return res, err
}

// rewrap re-seals t's stale values.
func (s *Service) rewrap(ctx context.Context, t chave.Token, res *RewrapResult) error {
	active, err := s.sealer.ActiveVersion(ctx)
	if err != nil {
		return err
	}
	if !s.hasStale(t, active) {
		return nil
	}
	var values int
	var openErr error
	_, err = s.store.UpdateToken(ctx, t.ID, func(cur *chave.Token) (chave.Event, error) {
		values, openErr = 0, nil
		if !s.hasStale(*cur, active) {
			return chave.Event{}, errUnchanged
		}
		params := cur.Parameters.Clone()
		for ctxID, vals := range params {
			for name, v := range vals {
				ver, ok := secrets.SealedVersion(v)
				if !s.isSecret(ctxID, name) || !ok || ver == active {
					continue
				}
				aad := parameterAAD(cur.ID, ctxID, name)
				plain, err := s.sealer.Open(ctx, v, aad)
				if err != nil {
					openErr = fmt.Errorf("open parameter %s.%s: %w", ctxID, name, err)
					return chave.Event{}, openErr
				}
				if vals[name], err = s.sealer.Seal(ctx, plain, aad); err != nil {
					return chave.Event{}, err
				}
				values++
			}
		}
		cur.Parameters = params
		return chave.Event{TokenID: cur.ID, Time: s.clock(), Actor: KeysActor, Action: chave.ActionRewrap, Fields: []string{"parameters"}}, nil
	})
	switch {
	case errors.Is(err, errUnchanged):
		return nil
	case openErr != nil:
		s.log.ErrorContext(ctx, "a secret parameter does not open: left as it is", "token", t.ID, "err", openErr)
		res.Failed = append(res.Failed, t.ID)
		return nil
	case err != nil:
		return fmt.Errorf("rewrap %s: %w", t.ID, err)
	}
	res.Rewrapped++
	res.Values += values
	return nil
}

// hasStale reports whether t has a secret value sealed under a version
// other than active.
func (s *Service) hasStale(t chave.Token, active int) bool {
	versions := s.sealedVersions(t)
	delete(versions, active)
	return len(versions) > 0
}
