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
// those of its current version (revocation.CredentialKey), and a third
// for those of the secret a rotation with a grace period replaced, which
// may still be in its grace period: revoking the credential ends both
// secrets at once. The tokens of its earlier versions were revoked when
// those rotated away.
func (s *Service) credentialEntries(t chave.Token) []revocation.Entry {
	until := t.RevokeTime.Add(s.accessTokenHorizon())
	out := []revocation.Entry{
		{Kind: revocation.Credential, ID: t.ID, At: t.RevokeTime, Until: until},
		{Kind: revocation.Credential, ID: revocation.CredentialKey(t.ID, secretVersionOf(t)), At: t.RevokeTime, Until: until},
	}
	if len(t.PreviousSecretHash) > 0 {
		out = append(out, revocation.Entry{Kind: revocation.Credential,
			ID: revocation.CredentialKey(t.ID, previousSecretVersionOf(t)), At: t.RevokeTime, Until: until})
	}
	return out
}

// A rotation revokes every token issued under the secret it replaces: at
// once, or, with a grace period, when that ends (RevokeTime). The database records it as a revoked-access-token
// row whose id names the credential and the old version (rotationRecord),
// which no jti can look like, so that rebuilding the set from the
// database restores it; the set holds it as the Credential entry of that
// version, At its Until: whenever a token of that version was issued, it
// is revoked.
const rotationRecordPrefix = "secret-version:"

func (s *Service) rotationRecord(clientID, oldVersion string, end time.Time) chave.RevokedAccessToken {
	return chave.RevokedAccessToken{
		ID: rotationRecordPrefix + revocation.CredentialKey(clientID, oldVersion), ClientID: clientID,
		ExpireTime: end.Add(s.accessTokenHorizon()), RevokeTime: end,
	}
}

// GraceEndActor is the actor the end of a rotation's grace period is
// recorded under.
const GraceEndActor = "rotation-grace-period"

// scheduleSecretEnd remembers a rotation record whose grace period has not
// ended, for EndPreviousSecrets: its entry must not reach the set before
// then (it would revoke the tokens the old secret gets meanwhile).
func (s *Service) scheduleSecretEnd(r chave.RevokedAccessToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secretEnds[r.ID] = r
}

// EndPreviousSecrets ends the grace periods that are over: it writes each
// one's secret-version entry to the revocation set, so that every token
// the old secret got stops working, and records in the audit trail that
// the previous secret ended (the database stopped accepting it at its
// expiry already, whether or not this ran). The revocation keeper runs it
// at every tick; a failure is retried at the next.
func (s *Service) EndPreviousSecrets(ctx context.Context) error {
	now := s.clock()
	s.mu.Lock()
	var due []chave.RevokedAccessToken
	for _, r := range s.secretEnds {
		if !r.RevokeTime.After(now) {
			due = append(due, r)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, r := range due {
		if err := s.endPreviousSecret(ctx, r); err != nil {
			errs = append(errs, err)
			continue
		}
		s.mu.Lock()
		if s.secretEnds[r.ID] == r {
			delete(s.secretEnds, r.ID)
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

func (s *Service) endPreviousSecret(ctx context.Context, r chave.RevokedAccessToken) error {
	if err := s.propagate(ctx, rotationEntry(r)); err != nil {
		return err
	}
	version := strings.TrimPrefix(r.ID, rotationRecordPrefix+r.ClientID+"/")
	t, err := s.store.UpdateToken(ctx, r.ClientID, func(t *chave.Token) (chave.Event, error) {
		if len(t.PreviousSecretHash) == 0 || previousSecretVersionOf(*t) != version {
			return chave.Event{}, errUnchanged // ended by a later rotation, or recorded before
		}
		end := t.PreviousSecretExpireTime
		t.PreviousSecretHash, t.PreviousSecretExpireTime, t.PreviousSecretHashVersion, t.PreviousSecretVersion = nil, time.Time{}, 0, ""
		return chave.Event{TokenID: t.ID, Time: end, Actor: GraceEndActor, Action: chave.ActionPreviousSecretEnd,
			Fields: []string{"previousSecretExpireTime"}}, nil
	})
	switch {
	case err == nil:
		s.log.InfoContext(ctx, "previous secret ended", "token", r.ClientID)
		// Cached copies decide the grace period at now already; the entry
		// keeps the versions' story whole.
		if err := s.propagateChanges(ctx, s.changedToken(t)); err != nil {
			s.log.WarnContext(ctx, "end of a previous secret not announced to the credential caches", "token", r.ClientID, "err", err)
		}
	case errors.Is(err, errUnchanged), chave.IsCode(err, chave.NotFound):
	default:
		return fmt.Errorf("end previous secret of %s: %w", r.ClientID, err)
	}
	return nil
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

// SigningKeyEntry is the entry that refuses every token the signing key k
// signed, kept horizon (the longest access-token lifetime plus the
// verifiers' leeway) past its revocation: an emergency rotation writes it,
// and a rebuild from the database writes it again.
func SigningKeyEntry(k chave.SigningKey, horizon time.Duration) revocation.Entry {
	return revocation.Entry{Kind: revocation.SigningKey, ID: k.ID, At: k.RevokeTime, Until: k.RevokeTime.Add(horizon)}
}

// propagate writes revocations to the set after the database committed
// them. On failure it asks the keeper to rebuild the set from the database
// and answers Unavailable: a revocation is never reported done before
// every verifier would refuse the token.
func (s *Service) propagate(ctx context.Context, entries ...revocation.Entry) error {
	s.dropCached(entries)
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
			// A grace period that has not ended yet reaches the set when it
			// ends; one that has is also recorded in the audit trail, if
			// it was not.
			s.scheduleSecretEnd(r)
			if !r.RevokeTime.After(now) {
				entries = append(entries, rotationEntry(r))
			}
		} else {
			entries = append(entries, s.accessTokenEntry(r))
		}
	}
	for _, f := range revs.Families {
		entries = append(entries, s.familyEntry(f))
	}
	for _, k := range revs.SigningKeys {
		entries = append(entries, SigningKeyEntry(k, s.accessTokenHorizon()))
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
		if err := s.EndPreviousSecrets(ctx); err != nil {
			s.log.WarnContext(ctx, "ending previous secrets failed; retrying", "err", err)
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
