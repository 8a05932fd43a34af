package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/chave/chave/services/internal/chave"
	"github.com/chave/chave/services/internal/secrets"
)

// LeakActor is the actor a leak report's revocation is recorded under.
const LeakActor = "leak-report"

// LeakReport is what a leak report says besides the secrets: who found
// them (Source) and where (URL, optional). Both are recorded in the audit
// event of each revocation.
type LeakReport struct {
	Source string
	URL    string
}

// ReportLeakedSecrets revokes the credential of every reported string that
// is a chave secret, and answers per string, in order, whether it is one
// whose credential is now revoked. A string that fails the prefix and
// checksum check costs no database read. The secret a rotation replaced
// counts while its grace period lasts (it still authenticates); after, it
// is no secret any more. Each revocation reaches the revocation set before
// the answer returns; a credential revoked before is reported revoked
// without a second event. An error aborts the whole report; retrying it is
// harmless. The caller checks the report's bounds (LeakServer).
func (s *Service) ReportLeakedSecrets(ctx context.Context, reported []string, r LeakReport) ([]bool, error) {
	out := make([]bool, len(reported))
	details := map[string]string{chave.DetailSource: r.Source}
	if r.URL != "" {
		details[chave.DetailURL] = r.URL
	}
	for i, raw := range reported {
		parsed, err := secrets.ParseClientSecret(raw)
		if err != nil {
			continue
		}
		found, ok, err := s.tokenBySecret(ctx, parsed)
		if err != nil {
			return nil, fmt.Errorf("leak report: %w", err)
		}
		if !ok {
			continue
		}
		var changed bool
		var already chave.Token
		t, err := s.store.UpdateToken(ctx, found.ID, func(t *chave.Token) (chave.Event, error) {
			changed = false
			if !t.RevokeTime.IsZero() {
				already = *t
				return chave.Event{}, errUnchanged
			}
			now := s.clock()
			t.RevokeTime, t.Revoker = now, LeakActor
			changed = true
			return chave.Event{TokenID: t.ID, Time: now, Actor: LeakActor, Action: chave.ActionRevokeLeaked,
				Fields: []string{"state", "revokeTime"}, Details: details}, nil
		})
		if errors.Is(err, errUnchanged) {
			t, err = already, nil
		}
		if err != nil {
			return nil, fmt.Errorf("leak report: revoke: %w", err)
		}
		if changed {
			s.log.WarnContext(ctx, "token revoked: secret reported leaked", "token", t.ID, "source", r.Source, "url", r.URL)
		}
		if err := s.propagate(ctx, append(s.credentialEntries(t), s.changedToken(t))...); err != nil {
			return nil, err
		}
		out[i] = true
	}
	return out, nil
}
