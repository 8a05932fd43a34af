package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/revocation"
	"github.com/chave/chave/services/verify"
)

// The revocation-set entries for what the database records. Each lives
// exactly as long as a token it revokes could still be accepted: until the
// last such access token's exp, plus verify.MaxLeeway, the most any
// verifier tolerates (it also absorbs the skew between the registry's
// clock and the auth service's). Only access tokens consult the set:
// refresh tokens are checked against the database by UseRefreshToken,
// which refuses a revoked family or credential at once.
//
// The access tokens a revocation can concern were all issued by its
// instant: a revoked credential, family or rotated-away secret mints no
// more. So none outlives the instant by more than the access-token
// lifetime.
func (s *Service) accessTokenHorizon() time.Duration {
	return s.accessTokenLifetime + verify.MaxLeeway
}

// credentialEntries: a revoked credential has two, one for the tokens that
// carry no secret version (issued before chave stamped it) and one for
// those of its current version (revocation.CredentialKey); the tokens of
// its earlier versions were revoked when those rotated away.
func (s *Service) credentialEntries(t chave.Token) []revocation.Entry {
	until := t.RevokeTime.Add(s.accessTokenHorizon())
	return []revocation.Entry{
		{Kind: revocation.Credential, ID: t.ID, At: t.RevokeTime, Until: until},
		{Kind: revocation.Credential, ID: revocation.CredentialKey(t.ID, secretVersionOf(t)), At: t.RevokeTime, Until: until},
	}
}

// A rotation without a grace period revokes every token issued under the
// secret it replaces. The database records it as a revoked-access-token
// row whose id names the credential and the old version (rotationRecord),
// which no jti can look like, so that rebuilding the set from the
// database restores it; the set holds it as the Credential entry of that
// version, At its Until: whenever a token of that version was issued, it
// is revoked.
const rotationRecordPrefix = "secret-version:"

func (s *Service) rotationRecord(clientID, oldVersion string, now time.Time) chave.RevokedAccessToken {
	return chave.RevokedAccessToken{
		ID: rotationRecordPrefix + revocation.CredentialKey(clientID, oldVersion), ClientID: clientID,
		ExpireTime: now.Add(s.accessTokenHorizon()), RevokeTime: now,
	}
}

func rotationEntry(r chave.RevokedAccessToken) revocation.Entry {
	return revocation.Entry{Kind: revocation.Credential, ID: strings.TrimPrefix(r.ID, rotationRecordPrefix), At: r.ExpireTime, Until: r.ExpireTime}
}

// accessTokenEntry: the token's own exp, which the auth service read from
// the signed token; never past its revocation plus the longest lifetime
// any access token has, whatever the caller said; and when unknown, the
// revocation plus the configured lifetime.
func (s *Service) accessTokenEntry(r chave.RevokedAccessToken) revocation.Entry {
	last := r.RevokeTime.Add(s.accessTokenLifetime)
	if !r.ExpireTime.IsZero() {
		last = minTime(r.ExpireTime, r.RevokeTime.Add(chave.MaxAccessTokenLifetime))
	}
	return revocation.Entry{Kind: revocation.AccessToken, ID: r.ID, At: r.RevokeTime, Until: last.Add(verify.MaxLeeway)}
}

// familyEntry: the family's last access token was minted by its last
// refresh, at its revocation or its expiry, whichever came first, and lives
// the access-token lifetime from then. Its refresh tokens, which may live
// on for days, need no entry (see above).
func (s *Service) familyEntry(f chave.RefreshFamily) revocation.Entry {
	lastMint := f.RevokeTime
	if !f.ExpireTime.IsZero() {
		lastMint = minTime(lastMint, f.ExpireTime)
	}
	return revocation.Entry{Kind: revocation.Family, ID: f.ID, At: f.RevokeTime,
		Until: lastMint.Add(s.accessTokenLifetime + verify.MaxLeeway)}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// errNotPropagated answers a revocation that the database recorded but the
// revocation set did not take: the caller retries (revocations are
// idempotent), and the keeper repairs the set from the database meanwhile.
var errNotPropagated = chave.Errorf(chave.Unavailable, "the revocation is recorded but not yet in force everywhere; retry")

// propagate writes revocations to the set after the database committed
// them. On failure it asks the keeper to rebuild the set from the database
// and answers Unavailable: a revocation is never reported done before
// every verifier would refuse the token.
func (s *Service) propagate(ctx context.Context, entries ...revocation.Entry) error {
	err := s.revocations.Revoke(ctx, entries...)
	if err == nil {
		s.metrics.revoked(entries)
		return nil
	}
	s.log.ErrorContext(ctx, "revocation not propagated to the revocation set", "err", err, "entries", len(entries))
	s.requestRebuild()
	return &chave.Error{Code: chave.Unavailable, Message: errNotPropagated.Message, Err: err}
}

func (s *Service) requestRebuild() {
	select {
	case s.rebuild <- struct{}{}:
	default: // one is already pending
	}
}

// RebuildRevocations writes every revocation the database holds that can
// still matter into the set; the set merges, never forgets early.
func (s *Service) RebuildRevocations(ctx context.Context) error {
	now := s.clock()
	// No entry outlives its revocation, or an expiry before it, by more
	// than chave.MaxAccessTokenLifetime and the leeway: the database need list
	// nothing older. Entries past their Until are dropped below.
	horizon := now.Add(-chave.MaxAccessTokenLifetime - verify.MaxLeeway)
	revs, err := s.store.ListRevocations(ctx, horizon, horizon)
	if err != nil {
		return fmt.Errorf("rebuild revocation set: %w", err)
	}
	entries := make([]revocation.Entry, 0, len(revs.Credentials)+len(revs.AccessTokens)+len(revs.Families))
	for _, t := range revs.Credentials {
		entries = append(entries, s.credentialEntries(t)...)
	}
	for _, r := range revs.AccessTokens {
		if strings.HasPrefix(r.ID, rotationRecordPrefix) {
			entries = append(entries, rotationEntry(r))
		} else {
			entries = append(entries, s.accessTokenEntry(r))
		}
	}
	for _, f := range revs.Families {
		entries = append(entries, s.familyEntry(f))
	}
	live := entries[:0]
	for _, e := range entries {
		if e.Until.After(now) {
			live = append(live, e)
		}
	}
	if err := s.revocations.Rebuild(ctx, live); err != nil {
		return fmt.Errorf("rebuild revocation set: %w", err)
	}
	s.log.InfoContext(ctx, "revocation set rebuilt from the database", "entries", len(live))
	return nil
}

// RunRevocationKeeper keeps the revocation set whole until ctx ends: it
// rebuilds it from the database when it was lost (Redis flushed, restarted
// without persistence, failed over to an empty replica) or when a write
// failed, checking every interval. While the set is lost every verifier
// fails closed; the keeper is what ends that.
func (s *Service) RunRevocationKeeper(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	pending := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.rebuild:
			pending = true
		case <-ticker.C:
		}
		err := s.revocations.Healthy(ctx)
		if err == nil && !pending {
			continue
		}
		if err != nil && !errors.Is(err, revocation.ErrLost) {
			continue // unreachable: nothing to rebuild into yet
		}
		if rerr := s.RebuildRevocations(ctx); rerr != nil {
			s.log.WarnContext(ctx, "revocation set rebuild failed; retrying", "err", rerr)
			pending = true
			continue
		}
		pending = false
	}
}
